"""An agent rejects or closes a return (functions/returns/closing.py): the units that never
arrived go back to the order's ledger (so they may be returned again), what arrived stays;
the same decision again changes nothing; the other decision or a return no longer open is a
409; only agents decide; a decision that loses a race to a receipt or an authorisation is
judged again on what is there now — on a store that keeps the table's conditions (the
return's version and the ledger's)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from functions.core.errors import Conflict, NotFound
from functions.core.principal import Principal
from functions.core.returns import ReceiptCondition, ReturnStatus
from functions.returns.closing import ClosingService
from functions.returns.ports import ReturnMoved
from functions.returns.receiving import ReceivingService
from tests.unit.test_receiving import FakeReceiptStore, receipt
from tests.unit.test_returns import FakeReturnStore, Orders, ask, dispatched_order, service

pytestmark = pytest.mark.timeout(30)

NOW = "2026-11-12T10:00:00.000Z"
AGENT = Principal("agent", "a-1")


def authorised(quantity: int, returned: int) -> tuple[ClosingService, Orders, str, FakeReturnStore]:
    returns, orders = service(dispatched_order([[quantity]]))
    view = returns.authorize(orders.order.order_id, AGENT, ask(("1", returned)))
    store = returns.store
    assert isinstance(store, FakeReturnStore)
    return ClosingService(orders=orders, store=store, clock=lambda: NOW), orders, view.view["return_id"], store


def test_a_rejected_return_gives_its_units_back_to_be_returned_again() -> None:
    closing, orders, return_id, store = authorised(3, 3)
    returns, _ = service(orders.order)
    with pytest.raises(Exception, match="at most 0"):
        returns.authorize(orders.order.order_id, AGENT, ask(("1", 1)))
    view = closing.decide(return_id, AGENT, "reject", "sent to the wrong address")
    assert view["status"] == "REJECTED" and orders.order.returning == {"1": 0}
    (entry,) = [e for e in store.entries if e.event == "ReturnRejected"]
    assert entry.detail["reason"] == "sent to the wrong address" and entry.detail["given_back"] == [
        {"line_id": "1", "quantity": 3}]
    returns, _ = service(orders.order)  # the units may come back again
    assert returns.authorize(orders.order.order_id, AGENT, ask(("1", 2))).view["status"] == "AUTHORIZED"


def test_deciding_again_changes_nothing_and_the_other_decision_is_a_conflict() -> None:
    closing, _orders, return_id, store = authorised(2, 2)
    first = closing.decide(return_id, AGENT, "reject", "fraud suspected")
    again = closing.decide(return_id, AGENT, "reject", "fraud suspected")
    assert first == again and len([e for e in store.entries if e.event == "ReturnRejected"]) == 1
    with pytest.raises(Conflict, match="REJECTED"):
        closing.decide(return_id, AGENT, "close", "done")


def test_a_partly_received_return_is_closed_not_rejected_and_keeps_what_arrived() -> None:
    closing, orders, return_id, _ = authorised(3, 3)
    ret = orders.order.returns[0]
    receiving = ReceivingService(orders=orders, store=FakeReceiptStore(orders), clock=lambda: NOW)
    receiving.receive(return_id, Principal("node", ret.return_to_node),
                      receipt("R1", ("1", 1, ReceiptCondition.RESELLABLE)))
    with pytest.raises(Conflict, match="close it instead"):
        closing.decide(return_id, AGENT, "reject", "late")
    view = closing.decide(return_id, AGENT, "close", "customer kept the rest")
    assert view["status"] == "CLOSED" and view["lines"][0]["received"] == 1
    assert orders.order.returning == {"1": 1}  # the arrived unit stays returned, two go back
    with pytest.raises(Conflict, match="CLOSED"):
        receiving.receive(return_id, Principal("node", ret.return_to_node),
                          receipt("R2", ("1", 1, ReceiptCondition.RESELLABLE)))


def test_only_agents_decide_and_a_received_return_stays() -> None:
    closing, orders, return_id, _ = authorised(1, 1)
    for who in (Principal("channel", orders.order.channel), Principal("node", "N0")):
        with pytest.raises(NotFound):
            closing.decide(return_id, who, "close", "x")
    orders.order = replace(orders.order, returns=(replace(orders.order.returns[0], status=ReturnStatus.RECEIVED),))
    with pytest.raises(Conflict, match="RECEIVED"):
        closing.decide(return_id, AGENT, "close", "x")


def test_a_decision_that_loses_a_race_is_judged_again_on_what_is_there_now() -> None:
    closing, orders, return_id, store = authorised(4, 2)
    real_end = store.end
    raced = {"n": 0}

    def end_after_an_authorisation(**kw: object) -> None:
        if not raced["n"]:  # another return of the line is authorised between the read and the write
            raced["n"] += 1
            returns, _ = service(orders.order)
            returns.store = store
            returns.authorize(orders.order.order_id, AGENT, ask(("1", 2)))
        real_end(**kw)  # type: ignore[arg-type]

    store.end = end_after_an_authorisation  # type: ignore[method-assign]
    closing.decide(return_id, AGENT, "close", "never sent")
    # the other return's two units stay on the ledger: the close did not write its stale map back
    assert orders.order.returning == {"1": 2} and raced["n"] == 1
    assert [r.status.value for r in orders.order.returns] == ["CLOSED", "AUTHORIZED"]


def test_a_return_moved_meanwhile_is_read_again() -> None:
    closing, _orders, return_id, store = authorised(2, 2)
    real_end = store.end
    calls = {"n": 0}

    def moved_once(**kw: object) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ReturnMoved(return_id)
        real_end(**kw)  # type: ignore[arg-type]

    store.end = moved_once  # type: ignore[method-assign]
    assert closing.decide(return_id, AGENT, "close", "x")["status"] == "CLOSED" and calls["n"] == 2
