"""Issue 13, authorising returns (API.md "Returns"), as a webshop, a warehouse and an agent see it
through the API: the RMA and where to send it, the order's returns and timeline, the 422s naming
the field (more than dispatched, outside the window, not returnable), the channel's window, a
replayed Idempotency-Key, and six returns of a line of three at once."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import KEYS
from tests.e2e.orders import key
from tests.e2e.test_allocation import order_for, settled
from tests.e2e.test_capture_api import WEBSHOP, post_order
from tests.e2e.test_fulfilment import DC, STORE, dispatch, requests_of
from tests.e2e.test_inventory_api import put_stock, sku

pytestmark = pytest.mark.timeout(120)

AGENT = {"x-api-key": KEYS["agent"]}
MARKETPLACE = {"x-api-key": KEYS["marketplace"]}


@pytest.fixture
def clock(http: httpx.Client) -> Iterator[httpx.Client]:
    yield http
    assert http.post("/_local/clock", json={"reset": True}).status_code == 200


def dispatched(http: httpx.Client, lines: list[dict[str, Any]]) -> dict[str, Any]:
    """An order of ``lines`` (each SKU stocked at the DC), dispatched by the DC and COMPLETED."""
    for line in lines:
        put_stock(http, line["sku"], "DC-BERLIN", 10, KEYS["dc"])
    order = post_order(http, order_for(lines), key()).json()
    settled(http, order["order_id"])
    (request,) = requests_of(http, DC, order["order_id"])
    assert dispatch(http, DC, request["shipment_id"], f"TRK{order['order_id'][-8:]}").status_code == 200
    deadline = time.monotonic() + 30  # invoiced and its payment captured (API.md: COMPLETED)
    while (done := http.get(f"/orders/{order['order_id']}", headers=WEBSHOP).json())["status"] != "COMPLETED":
        assert time.monotonic() < deadline, done["status"]
        time.sleep(0.1)
    return done


def ask_return(http: httpx.Client, order_id: str, lines: list[dict[str, Any]], headers: dict[str, str] = WEBSHOP,
               **extra: Any) -> httpx.Response:
    return http.post(f"/orders/{order_id}/returns", headers=headers, json={"lines": lines, **extra})


def test_a_dispatched_unit_is_authorised_for_return_to_the_node_that_shipped_it(http: httpx.Client) -> None:
    order = dispatched(http, [{"sku": sku(), "quantity": 2, "unit_price": "10.00"}])
    # When the webshop returns one of the two units as damaged
    r = ask_return(http, order["order_id"], [{"line_id": "1", "quantity": 1, "reason": "DAMAGED"}])
    assert r.status_code == 201, r.text
    ret = r.json()
    assert r.headers["Location"] == f"/returns/{ret['return_id']}"
    assert ret["status"] == "AUTHORIZED" and ret["outcome"] == "REFUND" and ret["order_id"] == order["order_id"]
    assert ret["rma_number"].startswith("RMA-")
    assert ret["lines"] == [{"line_id": "1", "sku": order["lines"][0]["sku"], "quantity": 1, "reason": "DAMAGED",
                             "received": 0}]
    assert ret["return_to"]["node_id"] == "DC-BERLIN" and ret["return_to"]["address"]["city"] == "Berlin"
    # Then the order shows it, with its fact on the timeline; its status is not rewound
    again = http.get(f"/orders/{order['order_id']}", headers=WEBSHOP).json()
    assert again["returns"] == [ret] and again["status"] == order["status"]
    (fact,) = [e for e in again["timeline"] if e["event"] == "ReturnAuthorized"]
    assert fact["detail"]["rma_number"] == ret["rma_number"]
    # the channel, the node it goes to and agents read it; another channel and another node do not
    for headers in (WEBSHOP, DC, AGENT):
        assert http.get(f"/returns/{ret['return_id']}", headers=headers).json() == ret
    for headers in (MARKETPLACE, STORE):
        assert http.get(f"/returns/{ret['return_id']}", headers=headers).status_code == 404
    # and the warehouse lists it among the returns coming to it
    coming: list[dict[str, Any]] = []
    token = None
    while True:
        page = http.get("/returns", headers=DC, params={"status": "AUTHORIZED", "limit": 100,
                                                         **({"next_token": token} if token else {})}).json()
        coming += page["returns"]
        token = page["next_token"]
        if not token:
            break
    assert ret in coming
    assert http.get("/returns", headers=WEBSHOP).status_code == 403


def test_what_cannot_come_back_is_a_422_naming_the_field(http: httpx.Client) -> None:
    item, final_sale = sku(), sku()
    order = dispatched(http, [{"sku": item, "quantity": 2, "unit_price": "10.00"},
                              {"sku": final_sale, "quantity": 1, "unit_price": "5.00", "returnable": False}])
    assert [ln["returnable"] for ln in order["lines"]] == [True, False]
    ok = ask_return(http, order["order_id"], [{"line_id": "1", "quantity": 1, "reason": "CHANGED_MIND"}])
    assert ok.status_code == 201
    cases = [
        ([{"line_id": "1", "quantity": 2, "reason": "OTHER"}], "lines[0].quantity", "at most 1 of line 1"),
        ([{"line_id": "2", "quantity": 1, "reason": "OTHER"}], "lines[0].line_id", "not returnable"),
        ([{"line_id": "9", "quantity": 1, "reason": "OTHER"}], "lines[0].line_id", "no line '9'"),
    ]
    for lines, field, words in cases:
        r = ask_return(http, order["order_id"], lines)
        assert r.status_code == 422, r.text
        problem = r.json()
        assert r.headers["Content-Type"].startswith("application/problem+json")
        assert problem["errors"][0]["field"] == field and words in problem["errors"][0]["message"], problem
    # a bad body is a 422 naming its field, before anything is read
    r = ask_return(http, order["order_id"], [{"line_id": "1", "quantity": 1, "reason": "BORED"}])
    assert r.status_code == 422 and "reason" in r.json()["errors"][0]["field"]
    # nothing of the refused requests was written
    assert len(http.get(f"/orders/{order['order_id']}", headers=WEBSHOP).json()["returns"]) == 1
    # another channel's order does not exist for a channel
    assert ask_return(http, order["order_id"], [{"line_id": "1", "quantity": 1, "reason": "OTHER"}],
                      MARKETPLACE).status_code == 404


def test_the_return_window_closes_30_days_after_dispatch_unless_the_channel_sets_another(clock: httpx.Client
                                                                                       ) -> None:
    http = clock
    order = dispatched(http, [{"sku": sku(), "quantity": 3, "unit_price": "10.00"}])
    line = [{"line_id": "1", "quantity": 1, "reason": "DEFECTIVE"}]
    # When the local clock moves 31 days on
    assert http.post("/_local/clock", json={"advance": "P31D"}).status_code == 200
    r = ask_return(http, order["order_id"], line)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "lines[0].line_id"
    assert "return window" in r.json()["errors"][0]["message"]
    # When the webshop's window is 60 days, the same return is authorised
    channel = "webshop"
    before = http.get(f"/channels/{channel}/settings", headers=AGENT).json()
    try:
        put = http.put(f"/channels/{channel}/settings", headers=AGENT, json={"return_window_days": 60})
        assert put.status_code == 200 and put.json()["return_window_days"] == 60
        assert http.get(f"/channels/{channel}/settings", headers=WEBSHOP).json()["return_window_days"] == 60
        assert http.get(f"/channels/{channel}/settings", headers=MARKETPLACE).status_code == 404
        assert http.put(f"/channels/{channel}/settings", headers=WEBSHOP,
                        json={"return_window_days": 90}).status_code == 403
        bad = http.put(f"/channels/{channel}/settings", headers=AGENT, json={"return_window_days": -1})
        assert bad.status_code == 422 and "return_window_days" in bad.json()["errors"][0]["field"]
        assert ask_return(http, order["order_id"], line).status_code == 201
    finally:
        http.put(f"/channels/{channel}/settings", headers=AGENT,
                 json={"return_window_days": before["return_window_days"]})


def test_a_repeated_request_with_its_idempotency_key_answers_the_same_return(http: httpx.Client) -> None:
    order = dispatched(http, [{"sku": sku(), "quantity": 3, "unit_price": "10.00"}])
    line = [{"line_id": "1", "quantity": 1, "reason": "WRONG_ITEM"}]
    headers = {**WEBSHOP, "Idempotency-Key": key()}
    first = ask_return(http, order["order_id"], line, headers)
    again = ask_return(http, order["order_id"], line, headers)
    assert first.status_code == again.status_code == 201 and again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    other = ask_return(http, order["order_id"], [{**line[0], "quantity": 2}], headers)
    assert other.status_code == 409
    assert len(http.get(f"/orders/{order['order_id']}", headers=WEBSHOP).json()["returns"]) == 1


def test_six_returns_of_one_unit_of_a_line_of_three_at_once_authorise_exactly_three(http: httpx.Client) -> None:
    order = dispatched(http, [{"sku": sku(), "quantity": 3, "unit_price": "10.00"}])
    start = threading.Barrier(6, timeout=20)
    codes: list[int] = []

    def one() -> None:
        with httpx.Client(base_url=str(http.base_url), timeout=60) as own:
            start.wait()
            codes.append(ask_return(own, order["order_id"],
                                    [{"line_id": "1", "quantity": 1, "reason": "CHANGED_MIND"}]).status_code)

    threads = [threading.Thread(target=one) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=90)
    assert sorted(codes) == [201, 201, 201, 422, 422, 422], codes
    returns = http.get(f"/orders/{order['order_id']}", headers=WEBSHOP).json()["returns"]
    assert sum(r["lines"][0]["quantity"] for r in returns) == 3
    assert len({r["return_id"] for r in returns}) == 3 and len({r["rma_number"] for r in returns}) == 3


# -- receipts, credit notes and refunds ---------------------------------------------------------

def receive(http: httpx.Client, ret: dict[str, Any], lines: list[dict[str, Any]], receipt_id: str,
            headers: dict[str, str] = DC) -> httpx.Response:
    return http.post(f"/returns/{ret['return_id']}/receive", headers=headers,
                     json={"receipt_id": receipt_id, "lines": lines})


def refunded(http: httpx.Client, return_id: str, timeout: float = 30.0) -> dict[str, Any]:
    """The return once it is REFUNDED (API.md: asynchronously, after the receipt)."""
    deadline = time.monotonic() + timeout
    while (ret := http.get(f"/returns/{return_id}", headers=AGENT).json())["status"] != "REFUNDED":
        assert time.monotonic() < deadline, ret["status"]
        time.sleep(0.2)
    return ret


def on_hand(http: httpx.Client, item: str, node: str = "DC-BERLIN") -> int:
    nodes = http.get(f"/inventory/{item}", headers=AGENT).json()["nodes"]
    return int(next(n["on_hand"] for n in nodes if n["node_id"] == node))


def credit_notes(order: dict[str, Any]) -> list[dict[str, Any]]:
    return [d for d in order["invoices"] if d["kind"] == "credit_note"]


def emails(http: httpx.Client, order_id: str, kinds: set[str], timeout: float = 15.0) -> list[dict[str, Any]]:
    """What the local SES accepted for the order, once every kind in ``kinds`` is among it."""
    deadline = time.monotonic() + timeout
    while True:
        sent = http.get("/_local/outbox", params={"order_id": order_id}).json()["emails"]
        if kinds <= {m["kind"] for m in sent} or time.monotonic() > deadline:
            return list(sent)
        time.sleep(0.2)


def with_a_refunded_note(http: httpx.Client, order_id: str, timeout: float = 30.0) -> dict[str, Any]:
    """The order once one of its credit notes is refunded (asynchronously, after a receipt)."""
    deadline = time.monotonic() + timeout
    while True:
        view: dict[str, Any] = http.get(f"/orders/{order_id}", headers=WEBSHOP).json()
        if any(n["payment_status"] == "REFUNDED" for n in credit_notes(view)):
            return view
        assert time.monotonic() < deadline, credit_notes(view)
        time.sleep(0.2)


def facts(order: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [e for e in order["timeline"] if e["event"] == name]


@pytest.fixture
def finance_tap(aws: Any, local_info: dict[str, Any]) -> Iterator[Any]:
    """What the event bus delivers from oms.invoice, read by ``take(order_id, names)``."""
    sqs, events_client = aws("sqs"), aws("events")
    name = f"refund-tap-{sku().lower()}"[:64]
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    bus = local_info["event_bus_name"]
    events_client.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps({"source": ["oms.invoice"]}))
    events_client.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "tap", "Arn": queue_arn}])

    def take(order_id: str, names: set[str], timeout: float = 15.0) -> list[dict[str, Any]]:
        seen: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while not names <= {s["detail-type"] for s in seen} and time.monotonic() < deadline:
            for m in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
                    "Messages", []):
                body = json.loads(m["Body"])
                if body["detail"]["data"]["order_id"] == order_id:
                    seen.append(body)
        return seen

    try:
        yield take
    finally:
        events_client.remove_targets(Rule=name, EventBusName=bus, Ids=["tap"])
        events_client.delete_rule(Name=name, EventBusName=bus)
        sqs.delete_queue(QueueUrl=queue_url)


def test_a_damaged_return_received_resellable_is_restocked_credited_and_refunded_once(
        http: httpx.Client, finance_tap: Any) -> None:
    item = sku()
    order = dispatched(http, [{"sku": item, "quantity": 2, "unit_price": "10.00"}])
    (invoice,) = order["invoices"]
    stock = on_hand(http, item)
    ret = ask_return(http, order["order_id"], [{"line_id": "1", "quantity": 1, "reason": "DAMAGED"}]).json()
    # When the warehouse receives the unit in resellable condition
    r = receive(http, ret, [{"line_id": "1", "quantity": 1, "condition": "RESELLABLE"}], "RCV-1")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "RECEIVED" and r.json()["lines"][0]["received"] == 1
    # Then it is back in that node's stock, and the return is refunded
    assert on_hand(http, item) == stock + 1
    done = refunded(http, ret["return_id"])
    after = http.get(f"/orders/{order['order_id']}", headers=WEBSHOP).json()
    (cn,) = credit_notes(after)
    assert cn["invoice_number"].startswith(f"CN-{cn['issued_at'][:4]}-") and len(cn["invoice_number"]) == 14
    assert cn["corrects"] == invoice["invoice_number"] and cn["return_id"] == ret["return_id"]
    # one unit of two, at the invoice's 19 %, no shipping (half the order is back)
    assert (cn["net"], cn["tax"], cn["gross"]) == ("10.00", "1.90", "11.90")
    assert float(cn["gross"]) < float(invoice["gross"]) and cn["payment_status"] == "REFUNDED"
    assert cn["payment_reference"]
    assert len(facts(after, "CreditNoteIssued")) == len(facts(after, "RefundIssued")) == 1
    (paid_back,) = facts(after, "PaymentRefunded")
    assert paid_back["detail"]["amount"] == "11.90" and paid_back["detail"]["invoice_number"] == cn["invoice_number"]
    # the finance events reach the bus, carrying the document's numbers and amounts
    delivered = {m["detail-type"]: m["detail"]["data"] for m in finance_tap(
        order["order_id"], {"CreditNoteIssued", "PaymentRefunded"})}
    assert delivered["CreditNoteIssued"]["invoice_number"] == cn["invoice_number"]
    assert delivered["CreditNoteIssued"]["corrects"] == invoice["invoice_number"]
    assert delivered["CreditNoteIssued"]["gross"] == delivered["PaymentRefunded"]["amount"] == "11.90"
    # the customer got the RMA with where to send it, then one refund email naming the credit note
    mails = emails(http, order["order_id"], {"return_authorized", "refund_issued"})
    (authorised,) = [m for m in mails if m["kind"] == "return_authorized"]
    assert ret["rma_number"] in authorised["text"] and ret["return_to"]["address"]["city"] in authorised["text"]
    (refund_mail,) = [m for m in mails if m["kind"] == "refund_issued"]
    assert cn["invoice_number"] in refund_mail["text"] and "11.90 EUR" in refund_mail["text"]
    # When the same receipt comes again, nothing changes
    again = receive(http, ret, [{"line_id": "1", "quantity": 1, "condition": "RESELLABLE"}], "RCV-1")
    assert again.status_code == 200 and again.json() == done
    time.sleep(1.0)  # a run it started would have credited again by now
    assert on_hand(http, item) == stock + 1
    final = http.get(f"/orders/{order['order_id']}", headers=WEBSHOP).json()
    assert credit_notes(final) == [cn] and len(facts(final, "PaymentRefunded")) == 1
    assert [m["kind"] for m in emails(http, order["order_id"], set())].count("refund_issued") == 1
    # and returning 2 more of that line is refused: only one unit is left to return
    more = ask_return(http, order["order_id"], [{"line_id": "1", "quantity": 2, "reason": "OTHER"}])
    assert more.status_code == 422 and more.json()["errors"][0]["field"] == "lines[0].quantity"


def test_a_damaged_receipt_restocks_nothing_and_the_whole_order_back_refunds_the_shipping(http: httpx.Client) -> None:
    item = sku()
    order = dispatched(http, [{"sku": item, "quantity": 2, "unit_price": "10.00"}])
    (invoice,) = order["invoices"]
    stock = on_hand(http, item)
    ret = ask_return(http, order["order_id"], [{"line_id": "1", "quantity": 2, "reason": "DEFECTIVE"}]).json()
    # two deliveries: the first one unit, the second the other; both damaged
    for n in (1, 2):
        r = receive(http, ret, [{"line_id": "1", "quantity": 1, "condition": "DAMAGED"}], f"RCV-{n}")
        assert r.status_code == 200, r.text
    assert on_hand(http, item) == stock
    refunded(http, ret["return_id"])
    notes = credit_notes(http.get(f"/orders/{order['order_id']}", headers=WEBSHOP).json())
    assert len(notes) == 2 and all(n["corrects"] == invoice["invoice_number"] for n in notes)
    # the merchant is at fault and the whole order came back: the invoice is credited to the cent
    assert sum(round(float(n["gross"]) * 100) for n in notes) == round(float(invoice["gross"]) * 100)
    assert sum(float(n["shipping"]) > 0 for n in notes) == 1


def test_an_agent_rejects_or_closes_a_return_and_the_units_that_never_came_may_come_back(
        http: httpx.Client) -> None:
    order = dispatched(http, [{"sku": sku(), "quantity": 2, "unit_price": "10.00"}])
    both = [{"line_id": "1", "quantity": 2, "reason": "CHANGED_MIND"}]
    ret = ask_return(http, order["order_id"], both).json()
    path = f"/returns/{ret['return_id']}"
    # only agents decide, with a reason
    assert http.post(f"{path}/reject", headers=WEBSHOP, json={"reason": "x"}).status_code == 403
    bad = http.post(f"{path}/reject", headers=AGENT, json={"reason": ""})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"].endswith("reason")
    r = http.post(f"{path}/reject", headers=AGENT, json={"reason": "outside the policy"})
    assert r.status_code == 200 and r.json()["status"] == "REJECTED"
    assert http.post(f"{path}/reject", headers=AGENT, json={"reason": "again"}).json() == r.json()
    assert http.post(f"{path}/close", headers=AGENT, json={"reason": "x"}).status_code == 409
    assert receive(http, ret, [{"line_id": "1", "quantity": 1, "condition": "RESELLABLE"}], "R1").status_code == 409
    # the two units may be returned again; one arrives and the agent closes the rest
    again = ask_return(http, order["order_id"], both)
    assert again.status_code == 201, again.text
    second = again.json()
    assert receive(http, second, [{"line_id": "1", "quantity": 1, "condition": "RESELLABLE"}],
                   "R1").json()["status"] == "PARTIALLY_RECEIVED"
    assert http.post(f"/returns/{second['return_id']}/reject", headers=AGENT,
                     json={"reason": "late"}).status_code == 409
    closed = http.post(f"/returns/{second['return_id']}/close", headers=AGENT, json={"reason": "customer kept one"})
    assert closed.status_code == 200 and closed.json()["status"] == "CLOSED"
    # the received unit stays credited and refunded; the one that never came may still come back
    view = with_a_refunded_note(http, order["order_id"])
    assert len(credit_notes(view)) == 1
    assert [e["event"] for e in view["timeline"] if e["event"] in ("ReturnRejected", "ReturnClosed")] == [
        "ReturnRejected", "ReturnClosed"]
    last = ask_return(http, order["order_id"], [{"line_id": "1", "quantity": 1, "reason": "OTHER"}])
    assert last.status_code == 201
    assert ask_return(http, order["order_id"], [{"line_id": "1", "quantity": 1, "reason": "OTHER"}]).status_code == 422


def test_an_exchange_received_gives_a_linked_replacement_order_at_no_charge_that_completes(
        http: httpx.Client) -> None:
    item, swap = sku(), sku()
    order = dispatched(http, [{"sku": item, "quantity": 1, "unit_price": "10.00"}])
    put_stock(http, swap, "DC-BERLIN", 5, KEYS["dc"])
    ret = ask_return(http, order["order_id"], [{"line_id": "1", "quantity": 1, "reason": "WRONG_ITEM"}],
                     outcome="EXCHANGE", exchange_lines=[{"sku": swap, "quantity": 1}]).json()
    assert ret["outcome"] == "EXCHANGE" and ret["exchange_lines"] == [{"sku": swap, "quantity": 1}]
    assert receive(http, ret, [{"line_id": "1", "quantity": 1, "condition": "RESELLABLE"}],
                   "RCV-X").status_code == 200
    deadline = time.monotonic() + 30
    while (done := http.get(f"/returns/{ret['return_id']}", headers=AGENT).json())["status"] != "EXCHANGED":
        assert time.monotonic() < deadline, done["status"]
        time.sleep(0.2)
    replacement_id = done["exchange_order_id"]
    replacement = settled(http, replacement_id)
    assert replacement["exchange_for"] == ret["return_id"] and replacement["channel"] == order["channel"]
    assert replacement["customer"] == order["customer"] and replacement["totals"]["total"] == "0.00"
    assert [(ln["sku"], ln["quantity"], ln["unit_price"]) for ln in replacement["lines"]] == [(swap, 1, "0.00")]
    # nothing was credited or refunded for the exchange
    assert credit_notes(http.get(f"/orders/{order['order_id']}", headers=WEBSHOP).json()) == []
    # the replacement is routed and shipped like any order, and completes at 0.00
    (request,) = requests_of(http, DC, replacement_id)
    assert dispatch(http, DC, request["shipment_id"], "TRK-SWAP").status_code == 200
    deadline = time.monotonic() + 30
    while (current := http.get(f"/orders/{replacement_id}", headers=WEBSHOP).json())["status"] != "COMPLETED":
        assert time.monotonic() < deadline, current["status"]
        time.sleep(0.2)
    (invoice,) = current["invoices"]
    assert invoice["gross"] == "0.00"


def test_an_exchange_closed_with_part_of_it_in_is_refunded_what_came_and_not_replaced(http: httpx.Client) -> None:
    item = sku()
    order = dispatched(http, [{"sku": item, "quantity": 2, "unit_price": "10.00"}])
    ret = ask_return(http, order["order_id"], [{"line_id": "1", "quantity": 2, "reason": "CHANGED_MIND"}],
                     outcome="EXCHANGE", exchange_lines=[{"sku": item, "quantity": 2}]).json()
    assert receive(http, ret, [{"line_id": "1", "quantity": 1, "condition": "RESELLABLE"}],
                   "RCV-1").json()["status"] == "PARTIALLY_RECEIVED"
    closed = http.post(f"/returns/{ret['return_id']}/close", headers=AGENT, json={"reason": "kept the other"})
    assert closed.status_code == 200 and closed.json()["status"] == "CLOSED"
    view = with_a_refunded_note(http, order["order_id"])
    (cn,) = credit_notes(view)
    assert cn["gross"] == "11.90"  # the unit that came, at the invoice's price and tax
    assert http.get(f"/returns/{ret['return_id']}", headers=AGENT).json()["exchange_order_id"] is None


def test_credit_note_numbers_stay_gapless_under_concurrent_receipts(http: httpx.Client) -> None:
    orders = [dispatched(http, [{"sku": sku(), "quantity": 1, "unit_price": "10.00"}]) for _ in range(4)]
    returns = [ask_return(http, o["order_id"], [{"line_id": "1", "quantity": 1, "reason": "DEFECTIVE"}]).json()
               for o in orders]
    start = threading.Barrier(len(returns), timeout=20)
    codes: list[int] = []

    def one(ret: dict[str, Any]) -> None:
        with httpx.Client(base_url=str(http.base_url), timeout=60) as own:
            start.wait()
            codes.append(receive(own, ret, [{"line_id": "1", "quantity": 1, "condition": "RESELLABLE"}],
                                 "RCV-1").status_code)

    threads = [threading.Thread(target=one, args=(r,)) for r in returns]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=90)
    assert codes == [200] * 4, codes
    numbers = []
    for o, r in zip(orders, returns, strict=True):
        refunded(http, r["return_id"])
        (cn,) = credit_notes(http.get(f"/orders/{o['order_id']}", headers=WEBSHOP).json())
        numbers.append(int(cn["invoice_number"].rsplit("-", 1)[1]))
    # the four receipts' notes took four consecutive numbers (nothing else issued notes meanwhile)
    assert sorted(numbers) == list(range(min(numbers), min(numbers) + 4)), numbers
