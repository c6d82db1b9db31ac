"""Authorising a return (functions/returns/authorizing.py): what may come back, refused with a 422
naming the field otherwise; where it goes; a replayed Idempotency-Key; and the lost race read
again — on an in-memory store that keeps the table's conditions."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from functions.core.errors import Conflict, NotFound, ValidationFailed
from functions.core.orders import Order, OrderLine, TimelineEntry
from functions.core.principal import Principal
from functions.core.returns import (
    ExchangeLine,
    Return,
    ReturnLine,
    ReturnOutcome,
    ReturnReason,
    ReturnStatus,
    order_id_of_return,
)
from functions.returns.authorizing import RequestedLine, ReturnRequest, ReturnService, assess, destination
from functions.returns.ports import ChannelSettings, LedgerMoved, ReturnMoved, ReturnNode
from tests.unit.test_invoicing import order_with

pytestmark = pytest.mark.timeout(30)

DISPATCHED = "2026-11-01T10:00:00.000Z"
WEBSHOP = Principal("channel", "webshop")
AGENT = Principal("agent", "agent-1")
NODES = [ReturnNode("N0", "DE", 1, True, True, {"name": "DC", "city": "Berlin", "country": "DE"}),
         ReturnNode("N1", "DE", 2, True, True, {"name": "Store", "city": "München", "country": "DE"}),
         ReturnNode("FR-1", "FR", 1, True, True, {"name": "Paris", "city": "Paris", "country": "FR"})]


def dispatched_order(quantities: list[list[int]], *, at: str = DISPATCHED, returnable: bool = True) -> Order:
    lines = [{"sku": f"SKU-{i}", "quantity": sum(q), "unit_price": "10.00"} for i, q in enumerate(quantities)]
    order = order_with(lines, quantities)
    return replace(order, shipments=tuple(replace(s, dispatched_at=at) for s in order.shipments),
                   lines=tuple(OrderLine(**{**vars(ln), "returnable": returnable}) for ln in order.lines))


def ask(*lines: tuple[str, int], outcome: ReturnOutcome = ReturnOutcome.REFUND,
        exchange: tuple[ExchangeLine, ...] | None = None) -> ReturnRequest:
    return ReturnRequest(tuple(RequestedLine(line, q, ReturnReason.DAMAGED) for line, q in lines), outcome, exchange)


def refused(order: Order, request: ReturnRequest, *, now: str = "2026-11-10T10:00:00.000Z", days: int = 30
            ) -> tuple[str, str]:
    with pytest.raises(ValidationFailed) as caught:
        assess(order, request, window_days=days, now=now)
    return caught.value.errors[0].field, caught.value.errors[0].message


class Orders:
    def __init__(self, order: Order) -> None:
        self.order = order

    def get(self, order_id: str) -> Order | None:
        return self.order if order_id == self.order.order_id else None


class FakeReturnStore:
    """The ledger's conditions in memory: the count of returns and the ledger's version as read,
    the return's version (a rejection or a close)."""

    def __init__(self, orders: Orders, *, races: int = 0) -> None:
        self.orders = orders
        self.races = races  # authorisations that another return beats to the ledger
        self.settings_of: dict[str, ChannelSettings] = {}
        self.entries: list[TimelineEntry] = []

    def authorize(self, ret: Return, *, returns_before: int, returning: dict[str, int], entry: TimelineEntry,
                  ledger_version: int = 0) -> None:
        order = self.orders.order
        if self.races:
            self.races -= 1
            rival = replace(ret, return_id=ret.return_id + "-rival", lines=ret.lines[:1])
            self._commit(order, rival)
            raise LedgerMoved(order.order_id)
        if len(order.returns) != returns_before or order.ledger_version != ledger_version:
            raise LedgerMoved(order.order_id)
        assert returning == order.returning  # what the write's ledger starts from: the order as read
        self._commit(order, ret)
        self.entries.append(entry)

    def _commit(self, order: Order, ret: Return) -> None:
        returning = dict(order.returning)
        for ln in ret.lines:
            returning[ln.line_id] = returning.get(ln.line_id, 0) + ln.quantity
        self.orders.order = replace(order, returns=(*order.returns, ret), returning=returning,
                                    ledger_version=order.ledger_version + 1)

    def end(self, *, before: Return, after: Return, ledger_version: int, returning: dict[str, int],
            entry: TimelineEntry) -> None:
        order = self.orders.order
        current = next(r for r in order.returns if r.return_id == before.return_id)
        if current.version != before.version:
            raise ReturnMoved(before.return_id)
        if order.ledger_version != ledger_version:
            raise LedgerMoved(order.order_id)
        self.orders.order = replace(order, returning=returning, ledger_version=ledger_version + 1, returns=tuple(
            after if r.return_id == after.return_id else r for r in order.returns))
        self.entries.append(entry)

    def settings(self, channel: str) -> ChannelSettings:
        return self.settings_of.get(channel, ChannelSettings(channel))

    def put_settings(self, settings: ChannelSettings) -> None:
        self.settings_of[settings.channel] = settings

    def listing(self, node_id: str, status: str, *, limit: int, token: str | None) -> Any:
        raise NotImplementedError


class Nodes:
    def nodes(self) -> list[ReturnNode]:
        return NODES


def service(order: Order, *, races: int = 0, now: str = "2026-11-10T10:00:00.000Z") -> tuple[ReturnService, Orders]:
    orders = Orders(order)
    return ReturnService(orders=orders, store=FakeReturnStore(orders, races=races), nodes=Nodes(),
                         clock=lambda: now), orders


# -- eligibility ---------------------------------------------------------------------------------


def test_a_dispatched_line_within_the_window_may_come_back_up_to_what_was_dispatched() -> None:
    order = dispatched_order([[2]])
    assert assess(order, ask(("1", 2)), window_days=30, now="2026-11-30T10:00:00.000Z") == {"1": 2}


def test_each_refusal_names_its_field() -> None:
    order = dispatched_order([[2], [1]])
    assert refused(order, ask(("7", 1))) == ("lines[0].line_id", f"order {order.order_id} has no line '7'")
    assert refused(order, ask(("1", 1), ("1", 1)))[0] == "lines[1].line_id"
    field, message = refused(order, ask(("2", 1), ("1", 3)))
    assert field == "lines[1].quantity" and message.startswith("at most 2 of line 1")
    assert refused(dispatched_order([[2]], returnable=False), ask(("1", 1))) == (
        "lines[0].line_id", "line 1 was sold as not returnable")
    assert refused(order, ask(("1", 1), outcome=ReturnOutcome.EXCHANGE))[0] == "exchange_lines"
    assert refused(order, ask(("1", 1), exchange=(ExchangeLine("X", 1),)))[0] == "exchange_lines"


def test_an_undispatched_line_cannot_come_back() -> None:
    order = order_with([{"sku": "A", "quantity": 2, "unit_price": "10.00"}], [[2]], dispatched=False)
    assert refused(order, ask(("1", 1))) == ("lines[0].line_id", "line 1 has not been dispatched yet")


def test_the_window_runs_from_the_lines_dispatch_and_the_channel_sets_it() -> None:
    order = dispatched_order([[1]])
    assess(order, ask(("1", 1)), window_days=30, now="2026-12-01T10:00:00.000Z")  # day 30: still open
    field, message = refused(order, ask(("1", 1)), now="2026-12-01T10:00:00.001Z")
    assert field == "lines[0].line_id" and "return window" in message and "2026-12-01T10:00:00.000Z" in message
    field, message = refused(order, ask(("1", 1)), now="2026-11-09T10:00:00.000Z", days=7)
    assert "7 days after its dispatch" in message


def test_units_already_on_their_way_back_count() -> None:
    order = replace(dispatched_order([[3]]), returning={"1": 2})
    assert assess(order, ask(("1", 1)), window_days=30, now="2026-11-10T10:00:00.000Z") == {"1": 3}
    assert refused(order, ask(("1", 2)))[1].startswith("at most 1 of line 1 can be returned (3 dispatched, 2")


# -- where it goes ---------------------------------------------------------------------------------


def test_the_goods_go_back_to_the_node_that_shipped_them() -> None:
    order = dispatched_order([[1, 1]])  # shipped from N0 and N1: the line's latest dispatch
    order = replace(order, shipments=(order.shipments[0], replace(order.shipments[1],
                                                                 dispatched_at="2026-11-02T10:00:00.000Z")))
    assert destination(order, ask(("1", 1)), NODES).node_id == "N1"


def test_a_node_that_takes_no_returns_sends_them_to_the_best_in_the_country_then_anywhere() -> None:
    order = dispatched_order([[1]])  # shipped from N0, to Germany
    closed = [replace(NODES[0], accepts_returns=False), *NODES[1:]]
    assert destination(order, ask(("1", 1)), closed).node_id == "N1"
    only_france = [replace(n, active=n.country == "FR") for n in NODES]
    assert destination(order, ask(("1", 1)), only_france).node_id == "FR-1"
    with pytest.raises(Conflict, match="no active node accepts returns"):
        destination(order, ask(("1", 1)), [replace(n, accepts_returns=False) for n in NODES])


# -- the use case ---------------------------------------------------------------------------------


def test_an_authorised_return_has_an_rma_number_a_destination_and_its_fact() -> None:
    svc, orders = service(dispatched_order([[2]]))
    result = svc.authorize(orders.order.order_id, WEBSHOP, ask(("1", 1)))
    view = result.view
    assert view["status"] == "AUTHORIZED" and view["outcome"] == "REFUND" and not result.replayed
    assert view["rma_number"] == "RMA-" + view["return_id"].removeprefix("ret_").upper()
    assert order_id_of_return(view["return_id"]) == orders.order.order_id
    assert view["lines"] == [{"line_id": "1", "sku": "SKU-0", "quantity": 1, "reason": "DAMAGED", "received": 0}]
    assert view["return_to"] == {"node_id": "N0", "address": NODES[0].address}
    store = svc.store
    assert isinstance(store, FakeReturnStore)
    assert [e.event for e in store.entries] == ["ReturnAuthorized"]
    assert store.entries[0].detail["rma_number"] == view["rma_number"]
    # the second return of the order is its second, and the first's units count
    second = svc.authorize(orders.order.order_id, AGENT, ask(("1", 1))).view
    assert second["return_id"].endswith("-2")
    with pytest.raises(ValidationFailed, match="at most 0 of line 1"):
        svc.authorize(orders.order.order_id, WEBSHOP, ask(("1", 1)))


def test_another_channels_order_does_not_exist_for_a_channel() -> None:
    svc, orders = service(dispatched_order([[2]]))
    with pytest.raises(NotFound):
        svc.authorize(orders.order.order_id, Principal("channel", "marketplace"), ask(("1", 1)))


def test_a_lost_race_is_judged_again_on_the_order_as_it_is_now() -> None:
    # Given another return of the same line authorised between this one's read and its write
    svc, orders = service(dispatched_order([[1]]), races=1)
    # Then this one is read again and refused: the line's one unit is on its way back already
    with pytest.raises(ValidationFailed, match="at most 0 of line 1"):
        svc.authorize(orders.order.order_id, WEBSHOP, ask(("1", 1)))
    assert len(orders.order.returns) == 1


def test_the_same_idempotency_key_answers_the_same_return_and_another_request_is_a_conflict() -> None:
    svc, orders = service(dispatched_order([[3]]))
    first = svc.authorize(orders.order.order_id, WEBSHOP, ask(("1", 1)), "key-1")
    again = svc.authorize(orders.order.order_id, WEBSHOP, ask(("1", 1)), "key-1")
    assert again.replayed and again.view == first.view and len(orders.order.returns) == 1
    with pytest.raises(Conflict, match="Idempotency-Key"):
        svc.authorize(orders.order.order_id, WEBSHOP, ask(("1", 2)), "key-1")
    # another caller's same key is another key
    assert not svc.authorize(orders.order.order_id, AGENT, ask(("1", 1)), "key-1").replayed


def test_the_window_is_the_channels() -> None:
    svc, orders = service(dispatched_order([[1]]), now="2026-11-10T10:00:00.000Z")
    svc.put_settings("webshop", 5)
    with pytest.raises(ValidationFailed, match="5 days after its dispatch"):
        svc.authorize(orders.order.order_id, WEBSHOP, ask(("1", 1)))
    assert svc.settings("webshop", WEBSHOP).return_window_days == 5
    with pytest.raises(NotFound):
        svc.settings("webshop", Principal("channel", "marketplace"))


def test_the_ledgers_write_stays_within_dynamodbs_expression_limit_for_250_lines() -> None:
    # DynamoDB refuses an expression over 4 KB (a ValidationException: a 500); the local cloud
    # does not check it, so the write's expressions are measured here
    from functions.returns.adapters.return_table import ledger_update

    order = dispatched_order([[2]])
    now = "2026-11-10T10:00:00.000Z"
    ret = Return(return_id="ret_X-1", rma_number="RMA-X-1", order_id=order.order_id, channel="webshop",
                 status=ReturnStatus.AUTHORIZED,
                 outcome=ReturnOutcome.REFUND, return_to_node="N0", return_to_address={}, created_at=now,
                 updated_at=now,
                 lines=tuple(ReturnLine(str(n), f"SKU-{n}", 2, ReturnReason.OTHER) for n in range(100, 350)))
    update = ledger_update("table", ret, 7, {str(n): 1 for n in range(100, 350)})["Update"]
    assert len(update["UpdateExpression"]) <= 4096 and len(update["ConditionExpression"]) <= 4096
    assert update["ExpressionAttributeValues"][":lines"]["M"]["349"] == {"N": "3"}
