"""Issue 11, Reconciliation, through the API of a running local stack: an order whose workflow
was lost stays CAPTURED until the reconciler (on its schedule, run on demand here with
``POST /_local/schedules/reconcile/run``) or an agent (``POST /orders/{id}/resume``, ``oms orders
resume``) resumes it; a dispatched shipment whose invoicing never ran gets its invoice and the
order completes; a notice claimed and never recorded past its lease is sent exactly once more.

A lost start is made as it happens: the capture stream's consumer is paused (its event source
mapping disabled through the AWS endpoint /_local/info names) while the order is captured; the
threshold's passing is made by moving the order's check time on the open orders' index into the
past (the reconciler compares it with the clock; nothing else reads it)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import KEYS
from tests.e2e.orders import key
from tests.e2e.test_allocation import AGENT, order_for, settled
from tests.e2e.test_capture_api import WEBSHOP, post_order
from tests.e2e.test_fulfilment import DC, dispatch
from tests.e2e.test_inventory_api import put_stock, sku
from tests.e2e.test_notices import outbox
from tests.e2e.test_oms_cli import oms, port_of

pytestmark = pytest.mark.timeout(180)
PAST = "2026-01-01T00:00:00.000Z"


@contextlib.contextmanager
def paused(aws: Any, function: str) -> Iterator[None]:
    """The function's table-stream mapping disabled for the block (its records wait, as on AWS)."""
    lam = aws("lambda")
    (mapping,) = lam.list_event_source_mappings(FunctionName=function)["EventSourceMappings"]
    lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
    try:
        yield
    finally:
        lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=True)


def idle(http: httpx.Client) -> None:
    http.post("/_local/settle", timeout=60)


def header(aws: Any, info: dict[str, Any], order_id: str) -> dict[str, Any]:
    keys = {"PK": {"S": f"ORDER#{order_id}"}, "SK": {"S": "ORDER"}}
    item: dict[str, Any] = aws("dynamodb").get_item(TableName=info["table_name"], ConsistentRead=True, Key=keys)["Item"]
    return item


def placed(http: httpx.Client) -> str:
    """A one-line order for stock at DC-BERLIN, captured normally."""
    item = sku()
    put_stock(http, item, "DC-BERLIN", 5, KEYS["dc"])
    body = order_for([{"sku": item, "quantity": 1, "unit_price": "5.00"}])
    return str(post_order(http, body, key()).json()["order_id"])


def make_due(aws: Any, info: dict[str, Any], order_id: str) -> None:
    """As if the threshold had passed: the order's check time on the open orders' index is past."""
    aws("dynamodb").update_item(TableName=info["table_name"], Key={"PK": {"S": f"ORDER#{order_id}"},
                                                                   "SK": {"S": "ORDER"}},
                                UpdateExpression="SET GSI4SK = :due", ConditionExpression="attribute_exists(GSI4SK)",
                                ExpressionAttributeValues={":due": {"S": f"{PAST}#{order_id}"}})


def run_reconciler(http: httpx.Client) -> dict[str, Any]:
    r = http.post("/_local/schedules/reconcile/run", timeout=60)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert body["schedule"] == "oms-local-reconcile" and not body["function_error"], body
    return body


def status_of(http: httpx.Client, order_id: str, want: str, timeout: float = 15.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        order: dict[str, Any] = http.get(f"/orders/{order_id}", headers=AGENT).json()
        if order["status"] == want or time.monotonic() > deadline:
            return order
        time.sleep(0.2)


@contextlib.contextmanager
def lost_order(http: httpx.Client, aws: Any) -> Iterator[str]:
    """A stocked order captured while the capture stream's consumer is down (for the block): no
    workflow runs for it. Afterwards the consumer delivers the capture late, as AWS would."""
    with paused(aws, "oms-local-capture-stream"):
        order_id = placed(http)
        idle(http)
        assert http.get(f"/orders/{order_id}", headers=AGENT).json()["status"] == "CAPTURED"
        yield order_id
    idle(http)


def test_the_schedule_resumes_an_order_whose_workflow_was_lost(http: httpx.Client, aws: Any,
                                                               local_info: dict[str, Any]) -> None:
    # Given an order whose workflow never started, still CAPTURED
    with lost_order(http, aws) as order_id:
        # While it is not due yet, a run leaves it alone
        run_reconciler(http)
        idle(http)
        assert http.get(f"/orders/{order_id}", headers=AGENT).json()["status"] == "CAPTURED"
        # When the threshold has passed and the schedule runs
        make_due(aws, local_info, order_id)
        report = run_reconciler(http)["result"]
        # Then it is resumed through its workflow, and its next check is pushed forward
        assert report["due"] >= 1 and report["resumed"] >= 1
        assert settled(http, order_id)["status"] == "IN_FULFILLMENT"
        assert header(aws, local_info, order_id)["GSI4SK"]["S"] > f"{PAST}#"
    # and the stream consumer's late delivery of the capture (its mapping is back) changes nothing
    done = http.get(f"/orders/{order_id}", headers=AGENT).json()
    assert done["status"] == "IN_FULFILLMENT" and len(done["shipments"]) == 1
    assert len([e for e in done["timeline"] if e["event"] == "OrderAllocated"]) == 1


def test_an_agent_resumes_a_lost_order_and_only_an_agent_may(http: httpx.Client, aws: Any) -> None:
    with lost_order(http, aws) as order_id:
        # Other roles may not: 403 (API.md: a role not allowed on the route)
        for role in ("webshop", "dc", "finance"):
            refused = http.post(f"/orders/{order_id}/resume", headers={"x-api-key": KEYS[role]})
            assert refused.status_code == 403 and refused.headers["Content-Type"] == "application/problem+json"
        assert http.post(f"/orders/{order_id}/resume").status_code == 401
        # An unknown order is 404
        assert http.post("/orders/ord_01JUNKNOWNUNKNOWNUNKNOWN00/resume", headers=AGENT).status_code == 404
        # When an agent resumes it
        r = http.post(f"/orders/{order_id}/resume", headers=AGENT)
        # Then 202 says what was started, and the order moves on
        assert r.status_code == 202, r.text
        body = r.json()
        assert body["order_id"] == order_id and body["status"] == "CAPTURED" and body["resumed"] is True
        (step,) = body["steps"]
        assert step["action"] == "start_fulfillment" and step["execution_name"].startswith(order_id)
        assert r.headers["Location"] == f"/orders/{order_id}"
        assert settled(http, order_id)["status"] == "IN_FULFILLMENT"
        idle(http)  # the resumed workflow ends (its confirmation is sent after the status moves on)
        # Resuming again: nothing is owed, the answer says what the order waits for
        again = http.post(f"/orders/{order_id}/resume", headers=AGENT)
        assert again.status_code == 200 and again.json()["resumed"] is False and again.json()["steps"] == []
        assert "DC-BERLIN to dispatch" in again.json()["waiting"]


def test_oms_orders_resume(stack: str, http: httpx.Client, aws: Any) -> None:
    with lost_order(http, aws) as order_id:
        result = oms("orders", "resume", order_id, port=port_of(stack))
        assert result.returncode == 0, result.stderr
        assert "start_fulfillment" in result.stdout and "resumed" in result.stdout
        assert settled(http, order_id)["status"] == "IN_FULFILLMENT"
        idle(http)
        again = oms("orders", "resume", order_id, port=port_of(stack))
        assert again.returncode == 0 and "nothing to resume" in again.stdout
    unknown = oms("orders", "resume", "ord_01JUNKNOWNUNKNOWNUNKNOWN00", port=port_of(stack))
    assert unknown.returncode == 1 and "no order" in unknown.stderr


def test_a_dispatched_shipment_never_invoiced_gets_its_invoice_and_the_order_completes(
        http: httpx.Client, aws: Any, local_info: dict[str, Any]) -> None:
    order_id = placed(http)
    (shipment,) = settled(http, order_id)["shipments"]
    # Given the invoice stream's consumer is down while the warehouse dispatches
    with paused(aws, "oms-local-invoice-stream"):
        assert dispatch(http, DC, shipment["shipment_id"], "00340434161094049999").status_code == 200
        idle(http)
        stuck = http.get(f"/orders/{order_id}", headers=AGENT).json()
        assert stuck["status"] == "SHIPPED" and stuck["invoices"] == []
        # When an agent resumes it
        r = http.post(f"/orders/{order_id}/resume", headers=AGENT)
        assert r.status_code == 202, r.text
        assert [s["action"] for s in r.json()["steps"]] == ["start_invoicing"]
        # Then it is invoiced once, the payment captured and the order completed — off the index
        done = status_of(http, order_id, "COMPLETED")
        assert done["status"] == "COMPLETED" and len(done["invoices"]) == 1
        assert "GSI4PK" not in header(aws, local_info, order_id)
    idle(http)  # the consumer back: its late start of the invoicing finds the work done
    done = http.get(f"/orders/{order_id}", headers=AGENT).json()
    assert len(done["invoices"]) == 1
    assert len([e for e in done["timeline"] if e["event"] == "PaymentCaptured"]) == 1
    # a final order owed nothing: 409
    final = http.post(f"/orders/{order_id}/resume", headers=AGENT)
    assert final.status_code == 409 and "COMPLETED" in final.json()["detail"]


def test_a_notice_claimed_but_unsent_past_its_lease_is_sent_exactly_once_more(
        http: httpx.Client, aws: Any, local_info: dict[str, Any]) -> None:
    order_id = placed(http)
    assert settled(http, order_id)["status"] == "IN_FULFILLMENT"
    assert len(outbox(http, order_id, emails=1)["emails"]) == 1
    # Given its confirmation's claim as a sender that crashed before recording leaves it: SENDING,
    # and the lease has passed (the answer was lost: at most twice, docs/ARCHITECTURE.md)
    notice = {"PK": {"S": f"ORDER#{order_id}"}, "SK": {"S": f"NOTICE#order_confirmed#{order_id}"}}
    aws("dynamodb").update_item(TableName=local_info["table_name"], Key=notice,
                                UpdateExpression="SET channels.email.#s = :sending, lease_until = :past",
                                ExpressionAttributeNames={"#s": "status"},
                                ExpressionAttributeValues={":sending": {"S": "SENDING"}, ":past": {"S": PAST}})
    # When the reconciler's schedule finds the order due, twice
    for _ in range(2):
        make_due(aws, local_info, order_id)
        run_reconciler(http)
        idle(http)
    # Then the confirmation was sent exactly once more
    emails = [m for m in outbox(http, order_id, emails=2)["emails"] if m["kind"] == "order_confirmed"]
    assert len(emails) == 2
    events = [e for e in http.get(f"/orders/{order_id}", headers=WEBSHOP).json()["timeline"]
              if e["event"] == "NoticeSent" and e["detail"].get("kind") == "order_confirmed"]
    assert len(events) == 2
