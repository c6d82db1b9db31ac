"""A notice is sent only while its order is in a state it applies to, decided by the claim's
own condition (notify's ``adapters/notice_table.py``) against the cancel's transaction
(capture's ``adapters/order_table.py``), on the deployed local stack, both ways of the race."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import boto3
import httpx
import pytest

from functions.capture.adapters.order_table import OrderTable
from functions.core.adapters.dynamodb import from_item, to_item
from functions.core.adapters.keys import order_notice_key
from functions.core.errors import Conflict
from functions.core.events import utc_now
from functions.core.orders import Order, OrderStatus, TimelineEntry
from functions.notify.adapters.notice_table import NoticeTable
from functions.notify.ports import Claim
from localcloud.server import LocalCloud
from tests.e2e.orders import key
from tests.e2e.test_allocation import order_for
from tests.e2e.test_capture_api import post_order

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
    seen: set[str] = set()
    for _ in range(4):
        order = backordered_order(cloud, table)
        claims = race(table, order)
        sent = [c for c in claims if c.send]
        skipped = [c for c in claims if c.skip]
        # one claim holds the notice, the other's conditional write was refused
        assert len(sent) + len(skipped) == 1 and Claim() in claims
        item = confirmation(table, order.order_id)
        assert item["superseded"]["reason"] == "order cancelled"  # the cancel committed
        if sent:  # claimed before the cancel: it was true when sent, and the claim stands
            assert item["channels"]["email"]["status"] == "SENDING"
            seen.add("claim first")
        else:  # cancelled before the claim: claimed as skipped, never to be sent
            assert skipped[0].reason == "order cancelled" and skipped[0].skip == {"email"}
            assert item["channels"]["email"]["status"] == "SKIPPED"
            seen.add("cancel first")
        # and a later delivery of the event never sends it
        assert not claim(table, order.order_id).send
        cloud.settle()
    assert seen  # which ways the race went (both, usually; the conditions hold either way)


def test_a_withdrawn_confirmation_is_skipped_not_resent_once_the_order_is_cancelled(
        cloud: LocalCloud, outputs: dict[str, str]) -> None:
    # Given a confirmation whose send failed (withdrawn for the retry), then the order cancelled
    table = outputs["TableName"]
    order = backordered_order(cloud, table)
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


def test_the_cancel_marks_only_the_notices_not_told_yet(cloud: LocalCloud, outputs: dict[str, str]) -> None:
    # Given a backordered order whose backorder notice went out
    table = outputs["TableName"]
    order = backordered_order(cloud, table)
    assert any(e.event == "NoticeSent" and e.detail["kind"] == "order_backordered" for e in order.timeline)
    # When it is cancelled
    cancel(table, order)
    # Then only the confirmation's claim is marked (the told notice costs the cancel nothing)
    ddb = boto3.client("dynamodb")
    told = from_item(ddb.get_item(TableName=table, ConsistentRead=True,
                                  Key=to_item(order_notice_key(order.order_id, "order_backordered")))["Item"])
    assert "superseded" not in told and told["channels"]["email"]["status"] == "SENT"
    assert confirmation(table, order.order_id)["superseded"]["reason"] == "order cancelled"
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
