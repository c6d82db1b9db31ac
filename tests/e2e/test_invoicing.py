"""Issue 3, after dispatch: invoice per shipment, payment capture, COMPLETED, finance events,
and the payment side of a cancel — as a webshop and finance see it through the API."""

from __future__ import annotations

import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import httpx

from tests.e2e.conftest import KEYS
from tests.e2e.orders import key, new_order
from tests.e2e.test_allocation import order_for, settled
from tests.e2e.test_capture_api import WEBSHOP, post_order
from tests.e2e.test_fulfilment import DC, STORE, dispatch, requests_of
from tests.e2e.test_inventory_api import put_stock, sku

NUMBER = re.compile(r"^INV-(\d{4})-(\d{6})$")


def finished(http: httpx.Client, order_id: str, timeout: float = 10.0, headers: dict[str, str] = WEBSHOP
             ) -> dict[str, Any]:
    """Poll until the order is COMPLETED or on finance's review list (API.md: settles within 10 s)."""
    deadline = time.monotonic() + timeout
    while True:
        order: dict[str, Any] = http.get(f"/orders/{order_id}", headers=headers).json()
        if order["status"] == "COMPLETED" or order["finance_review"] or time.monotonic() > deadline:
            return order
        time.sleep(0.1)


def events(order: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [e for e in order["timeline"] if e["event"] == name]


def ship_all(http: httpx.Client, order_id: str) -> None:
    for headers in (DC, STORE):
        for request in requests_of(http, headers, order_id):
            assert dispatch(http, headers, request["shipment_id"], f"TRK-{request['shipment_id']}").status_code == 200


def placed(http: httpx.Client, lines: list[dict[str, Any]], **changes: Any) -> dict[str, Any]:
    body = order_for(lines)
    body.update(changes)
    r = post_order(http, body, key())
    assert r.status_code == 201, r.text
    order = settled(http, r.json()["order_id"])
    assert order["status"] == "IN_FULFILLMENT", order["status"]
    return order


def test_one_node_order_completes_with_one_invoice_equal_to_the_order_total(http: httpx.Client) -> None:
    item = sku()
    put_stock(http, item, "DC-BERLIN", 10, KEYS["dc"])
    order = placed(http, [{"sku": item, "quantity": 2, "unit_price": "12.50"}],
                   payment={"method": "card", "authorization_id": "auth_8xk2", "amount": "35.58"})
    (shipment,) = order["shipments"]
    assert dispatch(http, DC, shipment["shipment_id"], "00340434000000042").status_code == 200
    assert dispatch(http, DC, shipment["shipment_id"], "00340434000000042").status_code == 200  # a repeat
    done = finished(http, order["order_id"])  # polls at most the 10 s API.md allows
    assert done["status"] == "COMPLETED", done["timeline"]
    (invoice,) = done["invoices"]
    assert NUMBER.match(invoice["invoice_number"]) and invoice["kind"] == "invoice"
    assert invoice["invoice_number"][4:8] == invoice["issued_at"][:4]  # the UTC year of issue
    assert (invoice["net"], invoice["tax"], invoice["total"]) == ("29.90", "5.68", "35.58")
    assert invoice["total"] == done["totals"]["total"] and invoice["shipment_id"] == shipment["shipment_id"]
    assert invoice["payment_status"] == "CAPTURED" and invoice["payment_reference"]
    (captured,) = events(done, "PaymentCaptured")
    assert captured["detail"]["amount"] == "35.58" and captured["detail"]["invoice_number"] == invoice["invoice_number"]
    assert len(events(done, "InvoiceIssued")) == 1 and len(events(done, "OrderCompleted")) == 1


def test_two_node_order_has_an_invoice_per_shipment_adding_up_to_the_total(http: httpx.Client) -> None:
    mug, tea = sku(), sku()
    put_stock(http, mug, "DC-BERLIN", 5, KEYS["dc"])
    put_stock(http, tea, "STORE-MUNICH", 5, KEYS["store"])
    order = placed(http, [{"sku": mug, "quantity": 3, "unit_price": "3.33"},
                          {"sku": tea, "quantity": 1, "unit_price": "2.99", "tax_class": "reduced"}])
    assert len(order["shipments"]) == 2
    ship_all(http, order["order_id"])
    done = finished(http, order["order_id"])
    assert done["status"] == "COMPLETED"
    invoices = done["invoices"]
    assert len(invoices) == 2 and {i["shipment_id"] for i in invoices} == {s["shipment_id"] for s in done["shipments"]}
    assert sum(Decimal(i["total"]) for i in invoices) == Decimal(done["totals"]["total"])
    assert sum(Decimal(i["tax"]) for i in invoices) == Decimal(done["totals"]["tax"])
    assert sum(Decimal(i["net"]) for i in invoices) == \
        Decimal(done["totals"]["subtotal"]) + Decimal(done["totals"]["shipping"])
    for i in invoices:
        assert Decimal(i["net"]) + Decimal(i["tax"]) == Decimal(i["gross"]) == Decimal(i["total"])
    # shipping (4.90 net) is billed once, on the first invoice issued
    first, second = sorted(invoices, key=lambda i: i["invoice_number"])
    assert Decimal(first["net"]) - Decimal("4.90") in (Decimal("9.99"), Decimal("2.99"))
    assert Decimal(second["net"]) in (Decimal("9.99"), Decimal("2.99"))
    assert len(events(done, "PaymentCaptured")) == 2


def test_a_line_split_over_two_nodes_is_billed_to_the_cent(http: httpx.Client) -> None:
    item = sku()
    put_stock(http, item, "DC-BERLIN", 2, KEYS["dc"])
    put_stock(http, item, "STORE-MUNICH", 1, KEYS["store"])
    order = placed(http, [{"sku": item, "quantity": 3, "unit_price": "0.35"}])
    assert len(order["shipments"]) == 2
    ship_all(http, order["order_id"])
    done = finished(http, order["order_id"])
    assert done["status"] == "COMPLETED"
    assert sum(Decimal(i["total"]) for i in done["invoices"]) == Decimal(done["totals"]["total"])
    assert sum(Decimal(i["tax"]) for i in done["invoices"]) == Decimal(done["totals"]["tax"])


def test_invoice_numbers_are_gapless_under_concurrent_dispatches(http: httpx.Client) -> None:
    item = sku()
    put_stock(http, item, "DC-BERLIN", 12, KEYS["dc"])
    orders = [placed(http, [{"sku": item, "quantity": 1, "unit_price": "1.00"}]) for _ in range(12)]
    # earlier tests' dispatches may still be invoicing: let them finish so that nothing else
    # takes a number while these twelve are dispatched
    assert http.post("/_local/settle", params={"timeout": 30}).status_code == 200
    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(lambda o: ship_all(http, o["order_id"]), orders))
    done = [finished(http, o["order_id"], timeout=20) for o in orders]
    assert all(o["status"] == "COMPLETED" for o in done), [(o["status"], o["finance_review"]) for o in done]
    numbers = sorted(int(NUMBER.match(o["invoices"][0]["invoice_number"]).group(2)) for o in done)  # type: ignore[union-attr]
    # nothing else invoices meanwhile in this session, so these twelve are consecutive
    assert numbers == list(range(numbers[0], numbers[0] + 12))


def test_a_declined_capture_leaves_the_shipment_dispatched_and_flags_the_order(http: httpx.Client) -> None:
    item = sku()
    put_stock(http, item, "DC-BERLIN", 1, KEYS["dc"])
    order = placed(http, [{"sku": item, "quantity": 1, "unit_price": "10.00"}],
                   payment={"method": "card", "authorization_id": "auth_decline_expired", "amount": "99.00"})
    ship_all(http, order["order_id"])
    # finance sees the review list (a channel sees none of it: tests/e2e/test_payments.py)
    done = finished(http, order["order_id"], headers={"x-api-key": KEYS["finance"]})
    assert done["status"] == "SHIPPED" and done["shipments"][0]["status"] == "DISPATCHED"
    (review,) = done["finance_review"]
    assert review["reason"] == "PaymentDeclined" and review["shipment_id"] == done["shipments"][0]["shipment_id"]
    (invoice,) = done["invoices"]
    assert invoice["payment_status"] == "FAILED" and invoice["payment_reference"] is None
    assert events(done, "FinanceReviewRequired") and not events(done, "PaymentCaptured")


def test_on_account_order_completes_without_a_capture(http: httpx.Client) -> None:
    item = sku()
    put_stock(http, item, "DC-BERLIN", 1, KEYS["dc"])
    body = new_order(lines=[{"sku": item, "quantity": 1, "unit_price": "10.00"}],
                     customer={"customer_id": "B2B-1000", "email": "buyer@b2b.example", "locale": "de-DE"},
                     payment={"method": "on_account"})
    marketplace = {"x-api-key": KEYS["marketplace"]}
    r = post_order(http, body, key(), api_key=KEYS["marketplace"])
    assert r.status_code == 201, r.text
    order_id = r.json()["order_id"]
    deadline = time.monotonic() + 10
    while http.get(f"/orders/{order_id}", headers=marketplace).json()["status"] != "IN_FULFILLMENT":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    ship_all(http, order_id)
    done = finished(http, order_id, headers=marketplace)
    assert done["status"] == "COMPLETED"
    (invoice,) = done["invoices"]
    assert invoice["payment_status"] == "ON_ACCOUNT" and not events(done, "PaymentCaptured")


def test_cancel_before_dispatch_voids_the_authorisation_once(http: httpx.Client) -> None:
    item = sku()
    put_stock(http, item, "DC-BERLIN", 1, KEYS["dc"])
    order = placed(http, [{"sku": item, "quantity": 1, "unit_price": "10.00"}])
    r = http.post(f"/orders/{order['order_id']}/cancel", json={"reason": "CUSTOMER"}, headers=WEBSHOP)
    assert r.status_code == 200
    deadline = time.monotonic() + 10
    while not events(current := http.get(f"/orders/{order['order_id']}", headers=WEBSHOP).json(), "PaymentVoided"):
        assert time.monotonic() < deadline, current["timeline"]
        time.sleep(0.1)
    (voided,) = events(current, "PaymentVoided")
    assert voided["detail"]["authorization_id"] == "auth" and voided["detail"]["payment_reference"]
    assert current["invoices"] == []


def test_finance_events_reach_the_event_bus(http: httpx.Client, aws: Any, local_info: dict[str, Any]) -> None:
    sqs, events_client = aws("sqs"), aws("events")
    queue_url = sqs.create_queue(QueueName=f"finance-tap-{sku().lower()}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule = f"finance-tap-{sku().lower()}"[:64]
    bus = local_info["event_bus_name"]
    events_client.put_rule(Name=rule, EventBusName=bus, EventPattern=json.dumps({"source": ["oms.invoice"]}))
    events_client.put_targets(Rule=rule, EventBusName=bus, Targets=[{"Id": "tap", "Arn": queue_arn}])
    try:
        item = sku()
        put_stock(http, item, "DC-BERLIN", 1, KEYS["dc"])
        order = placed(http, [{"sku": item, "quantity": 1, "unit_price": "10.00"}])
        ship_all(http, order["order_id"])
        assert finished(http, order["order_id"])["status"] == "COMPLETED"
        seen: dict[str, dict[str, Any]] = {}
        deadline = time.monotonic() + 10
        while len(seen) < 3 and time.monotonic() < deadline:
            for m in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
                    "Messages", []):
                body = json.loads(m["Body"])
                if body["detail"]["data"]["order_id"] == order["order_id"]:
                    seen[body["detail-type"]] = body["detail"]["data"]
        assert set(seen) == {"InvoiceIssued", "PaymentCaptured", "OrderCompleted"}
        assert seen["InvoiceIssued"]["gross"] == "17.73" and seen["PaymentCaptured"]["amount"] == "17.73"
    finally:
        events_client.remove_targets(Rule=rule, EventBusName=bus, Ids=["tap"])
        events_client.delete_rule(Name=rule, EventBusName=bus)


def test_invoice_tasks_run_again_change_nothing(http: httpx.Client, aws: Any) -> None:
    """Express workflows run at least once: InvoiceShipment invoked again with the same input
    finds its work done (same number, no second capture, no new timeline event)."""
    item = sku()
    put_stock(http, item, "DC-BERLIN", 1, KEYS["dc"])
    order = placed(http, [{"sku": item, "quantity": 1, "unit_price": "10.00"}])
    ship_all(http, order["order_id"])
    done = finished(http, order["order_id"])
    assert done["status"] == "COMPLETED"
    # The notices (confirmation, dispatch email and SMS) are sent after completion, on their own
    # stream: wait for them so that the timeline compared below is the settled one.
    deadline = time.monotonic() + 10
    while len(events(done, "NoticeSent")) < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
        done = http.get(f"/orders/{order['order_id']}", headers=WEBSHOP).json()
    assert len(events(done, "NoticeSent")) == 3
    (invoice,) = done["invoices"]
    lam = aws("lambda")
    names = {f["FunctionName"] for f in lam.list_functions()["Functions"]}
    task = next(n for n in names if n.endswith("-invoice-shipment"))
    for _ in range(2):
        again = json.loads(lam.invoke(FunctionName=task, Payload=json.dumps(
            {"order_id": order["order_id"], "shipment_id": invoice["shipment_id"]}))["Payload"].read())
        assert again["invoice_number"] == invoice["invoice_number"] and again["issued"] is False
        assert again["payment"] == "already" and again["completed"] is True
    after = http.get(f"/orders/{order['order_id']}", headers=WEBSHOP).json()
    assert after["invoices"] == done["invoices"] and len(after["timeline"]) == len(done["timeline"])
