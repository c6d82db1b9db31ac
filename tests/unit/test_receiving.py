"""Receiving a return at its node (functions/returns/receiving.py): partial receipts, the same
receipt_id twice, more than authorised refused naming the field, resellable units restocked and
damaged ones not, only the destination node, a lost race judged again — on an in-memory store
that keeps the table's condition (the return's version)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from functions.core.errors import Conflict, NotFound, ValidationFailed
from functions.core.orders import Order, TimelineEntry
from functions.core.principal import Principal
from functions.core.returns import ReceiptCondition, ReceivedLine, Return, ReturnStatus
from functions.returns.ports import ReturnMoved
from functions.returns.receiving import MAX_RESTOCKED_SKUS, ReceiptRequest, ReceivingService, judge
from tests.unit.test_returns import Orders, ask, dispatched_order, service

pytestmark = pytest.mark.timeout(30)

NOW = "2026-11-12T10:00:00.000Z"
RESELLABLE, DAMAGED = ReceiptCondition.RESELLABLE, ReceiptCondition.DAMAGED


class FakeReceiptStore:
    def __init__(self, orders: Orders, *, races: int = 0) -> None:
        self.orders = orders
        self.races = races
        self.restocked: dict[str, int] = {}
        self.entries: list[TimelineEntry] = []
        self.refused = 0

    def receive(self, *, before: Return, after: Return, restock: dict[str, int], entry: TimelineEntry) -> None:
        order = self.orders.order
        current = next(r for r in order.returns if r.return_id == before.return_id)
        if self.races:  # another receipt of one unit of the first line gets in first
            self.races -= 1
            first = current.lines[0].line_id
            rival = replace(current, version=current.version + 1,
                            received={**current.received, first: current.received.get(first, 0) + 1})
            self._put(order, rival)
            current = rival
        if current.version != before.version:
            self.refused += 1
            raise ReturnMoved(after.return_id)
        self._put(self.orders.order, after)
        for sku, units in restock.items():
            self.restocked[sku] = self.restocked.get(sku, 0) + units
        self.entries.append(entry)

    def _put(self, order: Order, ret: Return) -> None:
        self.orders.order = replace(order, returns=tuple(ret if r.return_id == ret.return_id else r
                                                         for r in order.returns))


def authorised(quantities: list[list[int]], *lines: tuple[str, int]) -> tuple[ReceivingService, FakeReceiptStore,
                                                                             Return, Principal]:
    returns, orders = service(dispatched_order(quantities))
    view = returns.authorize(orders.order.order_id, Principal("agent", "a"), ask(*lines)).view
    store = FakeReceiptStore(orders)
    ret = orders.order.returns[0]
    assert ret.return_id == view["return_id"]
    return ReceivingService(orders=orders, store=store, clock=lambda: NOW), store, ret, Principal(
        "node", ret.return_to_node)


def receipt(receipt_id: str, *lines: tuple[str, int, ReceiptCondition]) -> ReceiptRequest:
    return ReceiptRequest(receipt_id, tuple(ReceivedLine(line, q, c) for line, q, c in lines))


def test_a_partial_receipt_then_the_rest_receive_the_return_and_restock_only_resellable_units() -> None:
    receiving, store, ret, node = authorised([[3], [2]], ("1", 3), ("2", 2))
    first = receiving.receive(ret.return_id, node, receipt("R1", ("1", 2, RESELLABLE), ("2", 1, DAMAGED)))
    assert first["status"] == "PARTIALLY_RECEIVED"
    assert [ln["received"] for ln in first["lines"]] == [2, 1]
    assert store.restocked == {"SKU-0": 2}
    done = receiving.receive(ret.return_id, node, receipt("R2", ("1", 1, DAMAGED), ("2", 1, RESELLABLE)))
    assert done["status"] == "RECEIVED" and [ln["received"] for ln in done["lines"]] == [3, 2]
    assert store.restocked == {"SKU-0": 2, "SKU-1": 1}
    assert [r["receipt_id"] for r in done["receipts"]] == ["R1", "R2"]
    assert [e.event for e in store.entries] == ["ReturnReceived", "ReturnReceived"]
    assert store.entries[0].detail["restocked"] == 2 and store.entries[1].detail["status"] == "RECEIVED"


def test_the_same_receipt_id_again_changes_nothing() -> None:
    receiving, store, ret, node = authorised([[2]], ("1", 2))
    once = receiving.receive(ret.return_id, node, receipt("R1", ("1", 1, RESELLABLE)))
    again = receiving.receive(ret.return_id, node, receipt("R1", ("1", 1, RESELLABLE)))
    assert again == once and store.restocked == {"SKU-0": 1} and len(store.entries) == 1


def test_more_than_authorised_or_a_line_not_on_the_return_is_a_422_naming_the_field() -> None:
    receiving, store, ret, node = authorised([[3], [1]], ("1", 2))
    with pytest.raises(ValidationFailed) as caught:
        receiving.receive(ret.return_id, node, receipt("R1", ("1", 1, RESELLABLE), ("1", 2, DAMAGED)))
    assert caught.value.errors[0].field == "lines[1].quantity"
    assert "2 authorised, 0 received before; this receipt brings 3" in caught.value.errors[0].message
    with pytest.raises(ValidationFailed) as caught:
        receiving.receive(ret.return_id, node, receipt("R2", ("2", 1, RESELLABLE)))
    assert caught.value.errors[0].field == "lines[0].line_id"
    receiving.receive(ret.return_id, node, receipt("R3", ("1", 2, RESELLABLE)))
    with pytest.raises(Conflict, match="is RECEIVED"):
        receiving.receive(ret.return_id, node, receipt("R4", ("1", 1, RESELLABLE)))
    assert store.restocked == {"SKU-0": 2}


def test_only_the_node_the_return_is_sent_to_receives_it() -> None:
    receiving, store, ret, node = authorised([[1]], ("1", 1))
    for other in (Principal("node", "SOMEWHERE-ELSE"), Principal("agent", "a"), Principal("channel", "webshop")):
        with pytest.raises(NotFound):
            receiving.receive(ret.return_id, other, receipt("R1", ("1", 1, RESELLABLE)))
    with pytest.raises(NotFound):
        receiving.receive("ret_NOPE-1", node, receipt("R1", ("1", 1, RESELLABLE)))
    assert store.restocked == {} and store.entries == []


def test_a_receipt_that_loses_a_race_is_judged_again_against_what_arrived_meanwhile() -> None:
    receiving, store, ret, node = authorised([[2]], ("1", 2))
    store.races = 1  # one unit arrives on another receipt between this read and its write
    with pytest.raises(ValidationFailed) as caught:
        receiving.receive(ret.return_id, node, receipt("R1", ("1", 2, RESELLABLE)))
    assert caught.value.errors[0].field == "lines[0].quantity" and store.refused == 1
    store.races = 1
    receiving, store, ret, node = authorised([[3]], ("1", 3))
    store.races = 1
    view = receiving.receive(ret.return_id, node, receipt("R1", ("1", 1, RESELLABLE)))
    assert view["lines"][0]["received"] == 2 and store.refused == 1


def test_a_receipt_restocks_at_most_99_skus() -> None:
    quantities = [[1]] * (MAX_RESTOCKED_SKUS + 1)
    lines = [(str(n + 1), 1) for n in range(len(quantities))]
    receiving, _, ret, node = authorised(quantities, *lines)
    too_many = receipt("R1", *((line, 1, RESELLABLE) for line, _ in lines))
    with pytest.raises(ValidationFailed) as caught:
        receiving.receive(ret.return_id, node, too_many)
    assert caught.value.errors[0].field == "lines"
    damaged = receipt("R2", *((line, 1, DAMAGED) for line, _ in lines))  # nothing restocked: one write
    assert receiving.receive(ret.return_id, node, damaged)["status"] == ReturnStatus.RECEIVED.value
    assert judge(ret, receipt("R3", ("1", 1, DAMAGED))) == {"1": 1}
