"""A notice is sent only while its order is in a state it applies to, decided by the claim's
own condition (notify's ``adapters/notice_table.py``) against the transactions that make it
inapplicable — the cancel (capture's ``adapters/order_table.py``) and the allocation of a
backordered order (allocate's ``adapters/reservation_table.py``) — on the deployed local
stack, both ways of the race."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import boto3
import httpx
import pytest

from functions.allocate.adapters.reservation_table import ReservationTable
from functions.allocate.reservations import ReservationService
from functions.capture.adapters.order_table import OrderTable
from functions.core.adapters.dynamodb import from_item, to_item
from functions.core.adapters.keys import header_key, order_notice_key
from functions.core.adapters.stock import restock_action
from functions.core.errors import Conflict
from functions.core.events import utc_now
from functions.core.orders import Order, OrderStatus, TimelineEntry
from functions.core.sourcing import Allocation
from functions.notify.adapters.notice_table import NoticeTable
from functions.notify.ports import Claim
from localcloud.server import LocalCloud
from tests.e2e.conftest import KEYS
from tests.e2e.orders import key
from tests.e2e.test_allocation import order_for
from tests.e2e.test_capture_api import post_order
from tests.e2e.test_inventory_api import put_stock
from tests.integration.conftest import invoke

EMAIL = {"email": {"to": "ada@example.com", "subject": "Your order is confirmed", "text": "t", "html": "<p>t</p>",
                   "sender": "orders@acme.example", "at": "2026-11-23T10:00:00.000Z"}}


def backordered_order(cloud: LocalCloud, table: str) -> Order:
    """A new order for a SKU nobody stocks, settled as BACKORDERED (no confirmation claimed)."""
    with httpx.Client(base_url=cloud.frontdoor_url, timeout=30) as http:
        placed = post_order(http, order_for([{"sku": f"SKU-{uuid.uuid4().hex[:8]}", "quantity": 1,
                                               "unit_price": "5.00"}]), key()).json()
    cloud.settle()
    order = OrderTable(table).get(placed["order_id"])
    assert order is not None and order.status == OrderStatus.BACKORDERED
    return order


def stocked_order(cloud: LocalCloud, table: str) -> Order:
    """A new order for a stocked SKU, settled by the workflow: allocated and confirmed."""
    item = f"SKU-{uuid.uuid4().hex[:8]}"
    with httpx.Client(base_url=cloud.frontdoor_url, timeout=30) as http:
        assert put_stock(http, item, "DC-BERLIN", 5, KEYS["agent"]).status_code == 200
        placed = post_order(http, order_for([{"sku": item, "quantity": 1, "unit_price": "5.00"}]), key()).json()
    cloud.settle()
    order = OrderTable(table).get(placed["order_id"])
    assert order is not None and order.status == OrderStatus.IN_FULFILLMENT
    return order


def allocate(cloud: LocalCloud, table: str, order: Order) -> dict[str, Any]:
    """Stock arrives for a backordered order and it is allocated: Reserve's transaction through
    allocate's adapter, as the execution that backordered it (the one that carries the order)."""
    line = order.lines[0]
    # straight into the table, without the restock mark a count carries: the stream must not run
    # the SKU's backorders itself (it would race this reserve, and confirm the order)
    action = restock_action(table, line.sku, "DC-BERLIN", 5, utc_now())["Update"]
    action["UpdateExpression"] = action["UpdateExpression"].replace(", #r = :at", "")
    del action["ExpressionAttributeNames"]["#r"]
    boto3.client("dynamodb").update_item(**action)
    header = from_item(boto3.client("dynamodb").get_item(TableName=table, ConsistentRead=True,
                                                         Key=to_item(header_key(order.order_id)))["Item"])
    service = ReservationService(ReservationTable(table, boto3.client("dynamodb")))
    return service.reserve(order.order_id, str(header["accepted_by"]),
                           [Allocation(line.line_id, line.sku, "DC-BERLIN", line.quantity)],
                           {"name": "Ada", "country": "DE"}, order.shipping_method)


def allocated_unconfirmed(cloud: LocalCloud, table: str) -> Order:
    """An order allocated (``OrderAllocated`` on its timeline) whose confirmation is not
    claimed yet: backordered, then allocated outside the workflow (no Notify task ran)."""
    order = backordered_order(cloud, table)
    assert allocate(cloud, table, order)["reserved"] is True
    fresh = OrderTable(table).get(order.order_id)
    assert fresh is not None and fresh.status == OrderStatus.IN_FULFILLMENT
    return fresh


def notice_item(table: str, order_id: str, kind: str) -> dict[str, Any] | None:
    item = boto3.client("dynamodb").get_item(TableName=table, ConsistentRead=True,
                                             Key=to_item(order_notice_key(order_id, kind))).get("Item")
    return from_item(item) if item else None


def cancel(table: str, order: Order) -> None:
    """The cancel's transaction through capture's adapter, read again on a conflict (as the use case does)."""
    store = OrderTable(table, boto3.client("dynamodb"))
    for _ in range(10):
        entry = TimelineEntry(at=utc_now(), event="OrderCancelled", detail={"reason": "CUSTOMER", "by": "test"})
        try:
            store.cancel(order, entry, "CUSTOMER", None)
            return
        except Conflict:
            fresh = store.get(order.order_id)
            assert fresh is not None
            order = fresh
    raise AssertionError("the cancel never got through")


def confirmation(table: str, order_id: str) -> dict[str, Any]:
    item = boto3.client("dynamodb").get_item(TableName=table, ConsistentRead=True,
                                             Key=to_item(order_notice_key(order_id, "order_confirmed")))["Item"]
    return from_item(item)


def claim(table: str, order_id: str) -> Claim:
    return NoticeTable(table, boto3.client("dynamodb")).claim(
        order_id, f"order_confirmed#{order_id}", "order_confirmed", EMAIL)


def race(table: str, order: Order) -> list[Claim]:
    """The cancel and two claims of the order's confirmation (a redelivered Notify task),
    each thread with its own client, released together: what the two claims got."""
    barrier = threading.Barrier(3, timeout=10)
    claims: list[Claim] = []
    errors: list[BaseException] = []

    def run(work: Any) -> None:
        try:
            barrier.wait()
            work()
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(lambda: cancel(table, order),))] + [
        threading.Thread(target=run, args=(lambda: claims.append(claim(table, order.order_id)),)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    return claims


@pytest.mark.timeout(240)
def test_a_cancel_racing_the_confirmation_claim_never_lets_it_be_sent_after_the_cancel(
        cloud: LocalCloud, outputs: dict[str, str]) -> None:
    table = outputs["TableName"]
    for _ in range(4):
        order = allocated_unconfirmed(cloud, table)
        claims = race(table, order)
        sent = [c for c in claims if c.send]
        skipped = [c for c in claims if c.skip]
        # one claim holds the notice, the other's conditional write was refused
        assert len(sent) + len(skipped) == 1 and Claim() in claims
        item = confirmation(table, order.order_id)
        assert item["superseded"]["reason"] == "order cancelled"  # the cancel committed
        if sent:  # claimed before the cancel: it was true when sent, and the claim stands
            assert item["channels"]["email"]["status"] == "SENDING"
        else:  # cancelled before the claim: claimed as skipped, never to be sent
            assert skipped[0].reason == "order cancelled" and skipped[0].skip == {"email"}
            assert item["channels"]["email"]["status"] == "SKIPPED"
        # and a later delivery of the event never sends it
        assert not claim(table, order.order_id).send
        cloud.settle()


def test_a_withdrawn_confirmation_is_skipped_not_resent_once_the_order_is_cancelled(
        cloud: LocalCloud, outputs: dict[str, str]) -> None:
    # Given a confirmation whose send failed (withdrawn for the retry), then the order cancelled
    table = outputs["TableName"]
    order = allocated_unconfirmed(cloud, table)
    store = NoticeTable(table)
    notice_id = f"order_confirmed#{order.order_id}"
    assert claim(table, order.order_id).send == {"email"}
    store.record(order.order_id, notice_id, {"email": ("WITHDRAWN", None)}, [])
    cancel(table, order)
    # When the retry claims it, twice
    first, second = claim(table, order.order_id), claim(table, order.order_id)
    # Then the first records it skipped (the reason the cancel left), the second gets nothing
    assert first == Claim(skip=frozenset({"email"}), reason="order cancelled") and second == Claim()
    assert confirmation(table, order.order_id)["channels"]["email"]["status"] == "SKIPPED"
    cloud.settle()


def test_a_claim_whose_answer_was_lost_is_known_by_its_retry_and_by_no_other_delivery(
        cloud: LocalCloud, outputs: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a confirmation claimed by a put whose answer was lost: the client's retry sends the
    # same request (the same token), which the item it wrote refuses
    table = outputs["TableName"]
    order = allocated_unconfirmed(cloud, table)
    monkeypatch.setattr("functions.notify.adapters.notice_table.secrets.token_hex", lambda n: "a1b2c3d4")
    assert claim(table, order.order_id).send == {"email"}
    # When that retry comes back refused, it knows the claim for its own and sends
    assert claim(table, order.order_id) == Claim(send=frozenset({"email"}))
    # But another delivery of the event (its own token) is refused and sends nothing
    monkeypatch.setattr("functions.notify.adapters.notice_table.secrets.token_hex", lambda n: "99999999")
    assert claim(table, order.order_id) == Claim()
    cloud.settle()


def test_a_retry_of_one_delivery_takes_its_own_unsent_claim_again_once_and_no_other_delivery_does(
        cloud: LocalCloud, outputs: dict[str, str]) -> None:
    # Given a confirmation claimed by a workflow execution that then failed before sending
    table = outputs["TableName"]
    order = allocated_unconfirmed(cloud, table)
    store = NoticeTable(table, boto3.client("dynamodb"))

    def by(claimant: str | None) -> Claim:
        return store.claim(order.order_id, f"order_confirmed#{order.order_id}", "order_confirmed",
                           {"email": {"to": "ada@example.com"}}, None, claimant)

    assert by("exec-1").send == {"email"}
    # When another execution (a duplicate) claims it, it gets nothing: the claim is held
    assert by("exec-2") == Claim()
    # But the first execution's retry takes its own claim again, once
    assert by("exec-1") == Claim(send=frozenset({"email"}))
    assert by("exec-1") == Claim()
    cloud.settle()


def test_a_send_whose_answer_was_lost_is_claimed_once_more_as_its_last(cloud: LocalCloud,
                                                                        outputs: dict[str, str]) -> None:
    # Given a confirmation whose send's answer was lost (recorded unconfirmed: withdrawn)
    table = outputs["TableName"]
    order = allocated_unconfirmed(cloud, table)
    notice_id = f"order_confirmed#{order.order_id}"
    assert claim(table, order.order_id).send == {"email"}
    NoticeTable(table).record(order.order_id, notice_id, {"email": ("UNCONFIRMED", None)}, [])
    # When the retry claims it, it may send it once more, as the last time (resent)
    again = claim(table, order.order_id)
    assert again == Claim(send=frozenset({"email"}), resent=frozenset({"email"}))
    # and once recorded sent, no delivery claims it again
    NoticeTable(table).record(order.order_id, notice_id, {"email": ("SENT", None)}, [])
    assert claim(table, order.order_id) == Claim()
    cloud.settle()


def test_the_cancel_marks_no_notice_that_was_told_or_never_triggered(cloud: LocalCloud,
                                                                      outputs: dict[str, str]) -> None:
    # Given an order allocated and confirmed by the workflow, never backordered
    table = outputs["TableName"]
    order = stocked_order(cloud, table)
    assert any(e.event == "NoticeSent" and e.detail["kind"] == "order_confirmed" for e in order.timeline)
    # When it is cancelled
    cancel(table, order)
    # Then the told confirmation costs the cancel nothing, and no backorder notice item is made
    # for an order that was never backordered (its trigger can no longer come)
    told = notice_item(table, order.order_id, "order_confirmed")
    assert told is not None and "superseded" not in told and told["channels"]["email"]["status"] == "SENT"
    assert notice_item(table, order.order_id, "order_backordered") is None
    cloud.settle()


def test_a_cancelled_backorder_gets_no_confirmation_mark_and_is_never_confirmed(
        cloud: LocalCloud, outputs: dict[str, str], function_names: dict[str, str]) -> None:
    # Given a backordered order (never allocated: no confirmation triggered), cancelled
    table = outputs["TableName"]
    order = backordered_order(cloud, table)
    cancel(table, order)
    # Then the cancel wrote no confirmation mark (the trigger can no longer happen)
    assert notice_item(table, order.order_id, "order_confirmed") is None
    # When stock arrives and the allocation is attempted: refused, the order stays cancelled
    assert allocate(cloud, table, order) == {"order_id": order.order_id, "reserved": False,
                                             "status": "CANCELLED", "shipments": []}
    # and a stray Notify of the confirmation sends nothing (the order it reads is CANCELLED, final)
    error, result = invoke(function_names["notify-notice"], {"order_id": order.order_id, "kind": "order_confirmed"})
    assert error is None and result["notices"] == [{"channel": "email", "result": "skipped"}]
    item = notice_item(table, order.order_id, "order_confirmed")
    assert item is not None and item["channels"]["email"]["status"] == "SKIPPED"
    cloud.settle()


def test_allocating_a_backorder_refuses_a_later_claim_of_its_backorder_notice(cloud: LocalCloud,
                                                                              outputs: dict[str, str]) -> None:
    # Given a backordered order whose backorder email failed (withdrawn for the Notify retry)
    table = outputs["TableName"]
    order = backordered_order(cloud, table)
    store = NoticeTable(table)
    notice_id = f"order_backordered#{order.order_id}"
    store.record(order.order_id, notice_id, {"email": ("WITHDRAWN", None)}, [])
    # When stock arrives and the order is allocated before the retry claims it
    assert allocate(cloud, table, order)["reserved"] is True
    # Then the retry's claim is refused by its own condition and recorded as skipped, once
    args = (order.order_id, notice_id, "order_backordered", EMAIL)
    assert store.claim(*args) == Claim(skip=frozenset({"email"}), reason="order is IN_FULFILLMENT")
    assert store.claim(*args) == Claim()
    item = notice_item(table, order.order_id, "order_backordered")
    assert item is not None and item["channels"]["email"]["status"] == "SKIPPED"
    assert item["superseded"]["reason"] == "order is IN_FULFILLMENT"
    cloud.settle()


def test_allocating_a_backorder_before_its_notice_is_claimed_makes_notify_skip_it(cloud: LocalCloud,
                                                                                 outputs: dict[str, str]) -> None:
    # Given a backordered order allocated, its backorder notice never claimed (its Notify task
    # read the order while it was still BACKORDERED, then the allocation committed)
    table = outputs["TableName"]
    order = backordered_order(cloud, table)
    ddb = boto3.client("dynamodb")
    ddb.delete_item(TableName=table, Key=to_item(order_notice_key(order.order_id, "order_backordered")))
    assert allocate(cloud, table, order)["reserved"] is True
    # When that Notify task claims it: skipped, by the claim's condition alone (no read)
    claimed = NoticeTable(table, ddb).claim(order.order_id, f"order_backordered#{order.order_id}",
                                            "order_backordered", EMAIL)
    assert claimed == Claim(skip=frozenset({"email"}), reason="order is IN_FULFILLMENT")
    cloud.settle()


def test_a_notice_the_order_is_read_past_is_claimed_as_skipped_once(cloud: LocalCloud, outputs: dict[str, str]) -> None:
    table = outputs["TableName"]
    order = backordered_order(cloud, table)
    store = NoticeTable(table)
    args = (order.order_id, f"order_confirmed#{order.order_id}", "order_confirmed", EMAIL)
    assert store.claim(*args, inapplicable="order is SHIPPED") == Claim(skip=frozenset({"email"}),
                                                                          reason="order is SHIPPED")
    assert store.claim(*args) == Claim()  # a later delivery: nothing to send, nothing to record
    assert confirmation(table, order.order_id)["channels"]["email"]["status"] == "SKIPPED"
