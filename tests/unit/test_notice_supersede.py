"""Which notices a transition supersedes, in one table (``core/notices.py``), and the
transactions that mark them: Reserve marks the backorder notice only for a backordered order
(a normal order's Reserve is unchanged), the cancel only notices whose trigger happened."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from botocore.exceptions import ClientError

from functions.allocate.adapters.reservation_table import ReservationTable
from functions.allocate.reservations import ReservationService
from functions.capture.adapters.order_table import _notices_untold
from functions.capture.capturing import CaptureService
from functions.core.adapters.dynamodb import to_item
from functions.core.adapters.keys import NOTICE_PREFIX, order_notice_key
from functions.core.notices import notice_id, superseded_by
from functions.core.orders import Order, OrderStatus, TimelineEntry
from functions.core.sourcing import Allocation
from tests.unit.fakes import FakeOrderStore
from tests.unit.test_capture_logic import WEBSHOP, body

EXEC = "exec-1"
PLAN = [Allocation("1", "SKU-RED-MUG", "DC-BERLIN", 2), Allocation("2", "SKU-BLUE-CUP", "STORE-MUNICH", 1)]


class Dynamo:
    """Records each TransactWriteItems; refuses the first ones with the header as given."""

    def __init__(self, *refusals: dict[str, Any]) -> None:
        self.calls: list[list[dict[str, Any]]] = []
        self.refusals = list(refusals)

    def transact_write_items(self, TransactItems: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append(TransactItems)
        if self.refusals:
            header = self.refusals.pop(0)
            reasons = [{"Code": "ConditionalCheckFailed", "Item": to_item(header)}] + [
                {"Code": "None"} for _ in TransactItems[1:]]
            raise ClientError({"Error": {"Code": "TransactionCanceledException", "Message": "refused"},
                               "CancellationReasons": reasons}, "TransactWriteItems")
        return {}


def reserve(db: Dynamo) -> dict[str, Any]:
    service = ReservationService(ReservationTable("oms", db), clock=lambda: "2026-11-23T10:00:00.000Z")
    return service.reserve("ord_1", EXEC, PLAN, {"name": "Ada", "country": "DE"}, "standard")


def notice_keys(actions: list[dict[str, Any]]) -> list[str]:
    return [a["Update"]["Key"]["SK"]["S"] for a in actions
            if "Update" in a and a["Update"]["Key"]["SK"]["S"].startswith(NOTICE_PREFIX)]


def test_the_one_table_says_what_each_transition_supersedes() -> None:
    assert superseded_by(OrderStatus.CANCELLED) == ("order_confirmed", "order_backordered")
    assert superseded_by(OrderStatus.IN_FULFILLMENT) == ("order_backordered",)
    assert superseded_by(OrderStatus.BACKORDERED) == ()
    # the key a transition marks is the key notify claims
    assert order_notice_key("ord_1", "order_confirmed")["SK"] == NOTICE_PREFIX + notice_id("order_confirmed", "ord_1")


def test_a_normal_orders_reserve_is_one_transaction_with_no_notice_item() -> None:
    db = Dynamo()
    assert reserve(db)["reserved"] is True
    (actions,) = db.calls
    # header + one stock record per (sku, node) + one shipment per node: as before, no mark
    assert len(actions) == 1 + 2 + 2 and notice_keys(actions) == []
    assert actions[0]["Update"]["ExpressionAttributeValues"][":from"] == {"S": "CAPTURED"}


def test_allocating_a_backordered_order_marks_its_backorder_notice_in_the_same_transaction() -> None:
    db = Dynamo({"PK": "ORDER#ord_1", "SK": "ORDER", "status": "BACKORDERED", "accepted_by": EXEC})
    assert reserve(db)["reserved"] is True
    first, second = db.calls
    assert len(first) == 5 and len(second) == 6
    assert notice_keys(second) == [NOTICE_PREFIX + "order_backordered#ord_1"]
    mark = second[-1]["Update"]["ExpressionAttributeValues"][":mark"]["M"]
    assert mark["reason"] == {"S": "order is IN_FULFILLMENT"}
    assert second[0]["Update"]["ExpressionAttributeValues"][":from"] == {"S": "BACKORDERED"}


def test_a_restocks_new_execution_takes_a_backordered_order_on_its_status_alone() -> None:
    # Given an order backordered by an execution that has ended (its accepted_by)
    db = Dynamo({"PK": "ORDER#ord_1", "SK": "ORDER", "status": "BACKORDERED", "accepted_by": "exec-backordered"})
    # When a new execution reserves it
    assert reserve(db)["reserved"] is True
    # Then the write from BACKORDERED asks for the status only and records the new execution;
    # from CAPTURED it still asks for the execution
    first, second = db.calls
    assert "accepted_by = :exec)" in first[0]["Update"]["ConditionExpression"]
    assert second[0]["Update"]["ConditionExpression"] == "#s = :from AND attribute_not_exists(reserving_by)"
    assert second[0]["Update"]["ExpressionAttributeValues"][":exec"] == {"S": EXEC}


@pytest.mark.parametrize(("header", "expected"), [
    ({"status": "IN_FULFILLMENT", "accepted_by": EXEC}, (True, "IN_FULFILLMENT")),  # a repeat
    ({"status": "CANCELLED", "accepted_by": EXEC}, (False, "CANCELLED")),
    ({"status": "IN_FULFILLMENT", "accepted_by": "exec-other"}, (False, "IN_FULFILLMENT")),  # another's
])
def test_a_refused_reserve_is_answered_from_the_header_the_refusal_returned(header: dict[str, Any],
                                                                            expected: tuple[bool, str]) -> None:
    db = Dynamo({"PK": "ORDER#ord_1", "SK": "ORDER", **header})
    result = reserve(db)
    assert (result["reserved"], result["status"]) == expected and len(db.calls) == 1


def order_with(*events: tuple[str, dict[str, Any]]) -> Order:
    store = FakeOrderStore()
    order = CaptureService(store=store).capture(body(), WEBSHOP)
    return replace(order, timeline=order.timeline + tuple(
        TimelineEntry(at="2026-11-23T10:00:00.000Z", event=e, detail=d) for e, d in events))


SENT_BACKORDER = ("NoticeSent", {"kind": "order_backordered", "channel": "email"})
SENT_CONFIRMATION = ("NoticeSent", {"kind": "order_confirmed", "channel": "email"})


@pytest.mark.parametrize(("events", "marked"), [
    ((), []),  # cancelled right after capture: neither trigger happened, nor can it now
    ((("OrderBackordered", {}),), ["order_backordered"]),  # its notice may still be claimed
    ((("OrderBackordered", {}), SENT_BACKORDER), []),  # told; never allocated: no confirmation
    ((("OrderAllocated", {}),), ["order_confirmed"]),  # never backordered: no backorder mark
    ((("OrderAllocated", {}), SENT_CONFIRMATION), []),
    ((("OrderBackordered", {}), SENT_BACKORDER, ("OrderAllocated", {})), ["order_confirmed"]),
])
def test_the_cancel_marks_only_notices_triggered_and_not_told(events: tuple[tuple[str, dict[str, Any]], ...],
                                                              marked: list[str]) -> None:
    assert _notices_untold(order_with(*events)) == marked
