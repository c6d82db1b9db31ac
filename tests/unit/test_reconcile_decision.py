"""The reconciler's one decision (functions/reconcile/resumption.py): from an order as the
order reader reads it, which idempotent step it is owed — for every status and situation —
and the run that finds the due orders, runs their steps and postpones their next check."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from functions.core.invoices import PaymentStatus
from functions.core.orders import NoticeRecord, Order, OrderStatus, ShipmentStatus, TimelineEntry
from functions.invoice.billing import bill
from functions.reconcile.ports import Due
from functions.reconcile.resumption import (
    MAX_BACKOFF_SECONDS,
    SEND_NOTICE,
    START_FULFILLMENT,
    START_INVOICING,
    Reconciler,
    owed,
)
from tests.unit.test_invoicing import order_with

NOW = "2026-11-24T12:00:00.000Z"
PAST = "2026-11-24T11:00:00.000Z"
LATER = "2026-11-24T13:00:00.000Z"
LINE = [{"sku": "A", "quantity": 2, "unit_price": "10.00"}]


def _order(status: OrderStatus, *, dispatched: bool = False, split: bool = False) -> Order:
    order = order_with(LINE, [[1, 1]] if split else [[2]], dispatched=dispatched)
    allocated = (TimelineEntry(PAST, "OrderAllocated", {}),) if status != OrderStatus.CAPTURED else ()
    confirmed = (NoticeRecord("order_confirmed", None, {"email": "SENT"}, PAST),) if allocated else ()
    told = tuple(NoticeRecord("shipment_dispatched", s.shipment_id, {"email": "SENT", "sms": "SENT"}, PAST)
                 for s in order.shipments if s.status == ShipmentStatus.DISPATCHED)
    return replace(order, status=status, timeline=(*order.timeline, *allocated), notices=(*confirmed, *told),
                   created_at=PAST)


def _invoiced(order: Order, *, settled: bool, n: int = 0) -> Order:
    invoice = bill(order, order.shipments[n], number=f"INV-2026-00000{n + 1}", issued_at=PAST,
                   legal_entity="ACME-DE", with_shipping=n == 0)
    if settled:
        invoice = replace(invoice, payment_status=PaymentStatus.CAPTURED, settled_at=PAST)
    return replace(order, invoices=(*order.invoices, invoice))


def actions(order: Order) -> list[tuple[str, str | None]]:
    return [(s.action, s.shipment_id or s.kind) for s in owed(order, NOW).steps]


def test_captured_is_owed_its_workflow_again() -> None:
    decision = owed(_order(OrderStatus.CAPTURED), NOW)
    assert [s.action for s in decision.steps] == [START_FULFILLMENT] and not decision.final


def test_backordered_is_planned_again_in_case_its_stock_came() -> None:
    order = replace(_order(OrderStatus.BACKORDERED), timeline=(TimelineEntry(PAST, "OrderBackordered", {}),),
                    notices=(NoticeRecord("order_backordered", None, {"email": "SENT"}, PAST),))
    assert actions(order) == [(START_FULFILLMENT, None)]


def test_in_fulfilment_waiting_for_its_node_is_owed_nothing() -> None:
    decision = owed(_order(OrderStatus.IN_FULFILLMENT), NOW)
    assert decision.steps == () and decision.waiting is not None and "N0 to dispatch" in decision.waiting


def test_a_dispatched_shipment_without_invoice_is_invoiced() -> None:
    order = _order(OrderStatus.SHIPPED, dispatched=True)
    assert actions(order) == [(START_INVOICING, order.shipments[0].shipment_id)]


def test_an_invoice_whose_payment_was_never_captured_is_captured_through_invoicing() -> None:
    order = _invoiced(_order(OrderStatus.SHIPPED, dispatched=True), settled=False)
    decision = owed(order, NOW)
    assert [(s.action, s.shipment_id) for s in decision.steps] == [(START_INVOICING, order.shipments[0].shipment_id)]
    assert "payment not settled" in decision.steps[0].reason


def test_every_invoice_settled_but_not_completed_is_completed_through_invoicing() -> None:
    order = _invoiced(_order(OrderStatus.SHIPPED, dispatched=True), settled=True)
    decision = owed(order, NOW)
    assert [s.action for s in decision.steps] == [START_INVOICING] and "not completed" in decision.steps[0].reason


def test_partly_shipped_invoices_the_dispatched_part_and_waits_for_the_rest() -> None:
    order = _order(OrderStatus.PARTIALLY_SHIPPED, dispatched=True, split=True)
    first, second = order.shipments
    order = replace(order, shipments=(first, replace(second, status=ShipmentStatus.REQUESTED)),
                    notices=tuple(n for n in order.notices if n.ref != second.shipment_id))
    assert actions(order) == [(START_INVOICING, first.shipment_id)]
    settled = _invoiced(order, settled=True)
    decision = owed(settled, NOW)
    assert decision.steps == () and decision.waiting and second.shipment_id in decision.waiting


def test_a_shipment_on_finance_review_waits_for_finance() -> None:
    order = _order(OrderStatus.SHIPPED, dispatched=True)
    order = replace(order, finance_reviews=({"shipment_id": order.shipments[0].shipment_id, "reason": "X"},))
    decision = owed(order, NOW)
    assert decision.steps == () and decision.waiting and "finance" in decision.waiting


@pytest.mark.parametrize("reason", ["TransientError", "Sandbox.Timedout", "Lambda.ServiceException"])
def test_a_shipment_flagged_only_because_aws_browned_out_is_invoiced_again(reason: str) -> None:
    # the invoicing run ran out of retries in a brownout: nothing for finance to decide
    order = _order(OrderStatus.SHIPPED, dispatched=True)
    order = replace(order, finance_reviews=({"shipment_id": order.shipments[0].shipment_id, "reason": reason},))
    decision = owed(order, NOW)
    assert [s.action for s in decision.steps] == ["start_invoicing"]
    assert decision.steps[0].shipment_id == order.shipments[0].shipment_id


@pytest.mark.parametrize("status", [OrderStatus.COMPLETED, OrderStatus.CANCELLED])
def test_a_final_order_is_owed_nothing_but_its_notices(status: OrderStatus) -> None:
    order = _invoiced(_order(status, dispatched=status == OrderStatus.COMPLETED), settled=True)
    if status == OrderStatus.CANCELLED:
        order = replace(order, notices=(*order.notices, NoticeRecord("order_cancelled", None, {"email": "SENT"})))
    decision = owed(order, NOW)
    assert decision.final and decision.steps == ()


def test_a_cancelled_order_whose_customer_was_never_told_is_told() -> None:
    decision = owed(_order(OrderStatus.CANCELLED), NOW)
    assert decision.final and [(s.action, s.kind) for s in decision.steps] == [(SEND_NOTICE, "order_cancelled")]


def test_a_notice_left_sending_past_its_lease_is_sent_again_not_before() -> None:
    order = _order(OrderStatus.IN_FULFILLMENT)
    stuck = NoticeRecord("order_confirmed", None, {"email": "SENDING"}, lease_until=PAST)
    assert actions(replace(order, notices=(stuck,))) == [(SEND_NOTICE, "order_confirmed")]
    in_flight = replace(stuck, lease_until=LATER)
    assert actions(replace(order, notices=(in_flight,))) == []
    superseded = replace(stuck, superseded=True)
    assert actions(replace(order, notices=(superseded,))) == []


def test_a_withdrawn_channel_is_sent_again() -> None:
    order = _order(OrderStatus.IN_FULFILLMENT)
    failed = NoticeRecord("order_confirmed", None, {"email": "SENT", "sms": "WITHDRAWN"}, lease_until=LATER)
    assert actions(replace(order, notices=(failed,))) == [(SEND_NOTICE, "order_confirmed")]


def test_an_allocation_never_confirmed_and_a_dispatch_never_told_are_told() -> None:
    order = replace(_order(OrderStatus.SHIPPED, dispatched=True), notices=())
    order = _invoiced(order, settled=False)
    assert actions(order) == [(START_INVOICING, order.shipments[0].shipment_id), (SEND_NOTICE, "order_confirmed"),
                              (SEND_NOTICE, order.shipments[0].shipment_id)]


# -- the run ----------------------------------------------------------------------------------


class FakeIndex:
    def __init__(self, due: dict[int, list[Due]]) -> None:
        self.entries = due
        self.postponed: list[tuple[str, str]] = []
        self.closed: list[str] = []
        self.queries = 0

    def shards(self) -> range:
        return range(8)

    def due(self, shard: int, now: str, limit: int) -> list[Due]:
        self.queries += 1
        return [d for d in self.entries.get(shard, []) if d.check_after <= now][:limit]

    def postpone(self, due: Due, check_after: str) -> bool:
        self.postponed.append((due.order_id, check_after))
        return True

    def close(self, due: Due) -> bool:
        self.closed.append(due.order_id)
        return True


class Recorder:
    def __init__(self) -> None:
        self.calls: list[Any] = []

    def start(self, name: str, payload: dict[str, Any]) -> str:
        self.calls.append((name, payload))
        return f"arn:{name}"

    def send(self, order_id: str, kind: str, shipment_id: str | None) -> None:
        self.calls.append((order_id, kind, shipment_id))


class Orders:
    def __init__(self, *orders: Order) -> None:
        self.orders = {o.order_id: o for o in orders}

    def get(self, order_id: str) -> Order | None:
        return self.orders.get(order_id)


def _reconciler(index: FakeIndex, *orders: Order) -> tuple[Reconciler, Recorder, Recorder, Recorder]:
    fulfil, invoice, notify = Recorder(), Recorder(), Recorder()
    return Reconciler(orders=Orders(*orders), open_orders=index, fulfillment=fulfil, invoicing=invoice,
                      notices=notify, after_seconds=900, clock=lambda: NOW), fulfil, invoice, notify


def test_a_run_with_nothing_due_is_one_query_per_shard_and_nothing_else() -> None:
    index = FakeIndex({})
    reconciler, fulfil, invoice, notify = _reconciler(index)
    report = reconciler.run()
    assert index.queries == 8 and report["due"] == 0 and not (fulfil.calls or invoice.calls or notify.calls)


def test_a_run_resumes_what_is_due_and_postpones_what_waits_with_backoff() -> None:
    stuck = _order(OrderStatus.CAPTURED)
    waiting = _order(OrderStatus.IN_FULFILLMENT)
    index = FakeIndex({0: [Due(stuck.order_id, PAST)], 3: [Due(waiting.order_id, PAST)]})
    reconciler, fulfil, _, _ = _reconciler(index, stuck, waiting)
    report = reconciler.run()
    assert report["due"] == 2 and report["resumed"] == 1 and report["waiting"] == 1
    ((name, payload),) = fulfil.calls
    assert name.startswith(f"{stuck.order_id}-resume-") and payload == {"order_id": stuck.order_id}
    # both postponed: as long again as the order is old (1 h here), at least the threshold
    assert sorted(index.postponed) == sorted([(stuck.order_id, "2026-11-24T13:00:00.000Z"),
                                              (waiting.order_id, "2026-11-24T13:00:00.000Z")])


def test_the_backoff_is_at_least_the_threshold_and_at_most_a_day() -> None:
    young = replace(_order(OrderStatus.IN_FULFILLMENT), created_at="2026-11-24T11:59:00.000Z")
    old = replace(_order(OrderStatus.IN_FULFILLMENT), created_at="2026-10-01T00:00:00.000Z")
    index = FakeIndex({0: [Due(young.order_id, PAST), Due(old.order_id, PAST)]})
    reconciler, *_ = _reconciler(index, young, old)
    reconciler.run()
    assert dict(index.postponed) == {young.order_id: "2026-11-24T12:15:00.000Z",
                                     old.order_id: "2026-11-25T12:00:00.000Z"}
    assert MAX_BACKOFF_SECONDS == 86400


def test_a_final_order_still_on_the_index_is_taken_off() -> None:
    done = _invoiced(_order(OrderStatus.COMPLETED, dispatched=True), settled=True)
    index = FakeIndex({1: [Due(done.order_id, PAST)]})
    reconciler, *_ = _reconciler(index, done)
    assert reconciler.run()["closed"] == 1 and index.closed == [done.order_id] and not index.postponed


def test_one_order_failing_does_not_stop_the_run() -> None:
    first, second = _order(OrderStatus.CAPTURED), _order(OrderStatus.CAPTURED)
    index = FakeIndex({0: [Due(first.order_id, PAST), Due(second.order_id, PAST)]})
    reconciler, fulfil, _, _ = _reconciler(index, first, second)
    calls = {"n": 0}
    original = fulfil.start

    def flaky(name: str, payload: dict[str, Any]) -> str:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("throttled")
        return original(name, payload)

    fulfil.start = flaky  # type: ignore[method-assign]
    report = reconciler.run()
    assert report["failed"] == 1 and report["resumed"] == 1 and len(fulfil.calls) == 1


def test_an_operator_resume_runs_the_same_steps_and_says_which() -> None:
    order = _invoiced(_order(OrderStatus.SHIPPED, dispatched=True), settled=False)
    reconciler, _, invoice, _ = _reconciler(FakeIndex({}), order)
    resumed = reconciler.resume(order.order_id)
    assert resumed is not None and resumed.status == "SHIPPED"
    ((name, payload),) = invoice.calls
    assert payload == {"order_id": order.order_id, "shipment_id": order.shipments[0].shipment_id}
    assert resumed.started[0]["execution_name"] == name and resumed.started[0]["action"] == START_INVOICING
    assert reconciler.resume("ord_unknown") is None
