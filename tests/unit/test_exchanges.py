"""An exchange's replacement order (functions/capture/exchanging.py): captured once for the same
channel, customer and address, the exchange lines and shipping at 0.00 with nothing to pay,
linked both ways; a run that stopped between the capture and the link finds its order; a return
not (or no longer) waiting for its replacement gets none — on in-memory stores that keep the
table's conditions (the channel reference, the return's version)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from functions.capture.capturing import CaptureService
from functions.capture.exchanging import ExchangeService, ReturnMoved
from functions.core.errors import NotFound
from functions.core.orders import (
    Order,
    OrderStatus,
    Shipment,
    ShipmentLine,
    ShipmentStatus,
    TimelineEntry,
    shipment_id_for,
)
from functions.core.returns import ExchangeLine, Return, ReturnOutcome, ReturnStatus
from tests.unit.fakes import FakeOrderStore
from tests.unit.test_invoicing import service_for
from tests.unit.test_refunds import CHANGED_MIND, TWO_A, invoiced, returned

pytestmark = pytest.mark.timeout(30)

NOW = "2026-11-30T12:00:00.000Z"


class Links:
    def __init__(self, store: FakeOrderStore, *, moves: int = 0) -> None:
        self.store = store
        self.moves = moves  # writes a receipt or an agent beats
        self.entries: list[TimelineEntry] = []

    def link(self, before: Return, after: Return, entry: TimelineEntry) -> None:
        order = self.store.orders[before.order_id]
        current = next(r for r in order.returns if r.return_id == before.return_id)
        if self.moves:
            self.moves -= 1
            raise ReturnMoved(before.return_id)
        assert current.version == before.version
        self.store.orders[order.order_id] = replace(order, returns=tuple(
            after if r.return_id == after.return_id else r for r in order.returns))
        self.entries.append(entry)


def exchange(status: ReturnStatus = ReturnStatus.RECEIVED) -> tuple[ExchangeService, FakeOrderStore, Order, Links]:
    order = returned(invoiced(TWO_A, [[2]]), [("1", 1, CHANGED_MIND)], [[("1", 1)]], outcome=ReturnOutcome.EXCHANGE)
    ret = replace(order.returns[0], status=status, exchange_lines=(ExchangeLine("A-BLUE", 1),))
    order = replace(order, returns=(ret,))
    store = FakeOrderStore()
    store.orders[order.order_id] = order
    links = Links(store)
    return ExchangeService(orders=store, capture=CaptureService(store=store, clock=lambda: NOW), links=links,
                           clock=lambda: NOW), store, order, links


def test_the_replacement_is_the_customers_at_no_charge_linked_both_ways_and_made_once() -> None:
    service, store, original, links = exchange()
    ret = original.returns[0]
    first = service.replace(original.order_id, ret.return_id)
    again = service.replace(original.order_id, ret.return_id)
    assert first["status"] == again["status"] == "EXCHANGED" and first == again
    replacement = store.orders[first["exchange_order_id"]]
    assert replacement.exchange_for == ret.return_id and replacement.channel == original.channel
    assert replacement.customer == original.customer and replacement.shipping_address == original.shipping_address
    assert [(ln.sku, ln.quantity, ln.unit_price) for ln in replacement.lines] == [("A-BLUE", 1, Decimal("0.00"))]
    assert replacement.totals.total == 0 and replacement.totals.shipping == 0 and replacement.payment.method == "none"
    assert replacement.channel_order_id == f"EXCHANGE-{ret.rma_number}"
    assert store.orders[original.order_id].returns[0].exchange_order_id == replacement.order_id
    assert [e.event for e in links.entries] == ["ReturnExchanged"]
    assert len(store.orders) == 2


def test_a_run_that_stopped_after_the_capture_links_the_order_it_made() -> None:
    service, store, original, links = exchange()
    ret = original.returns[0]
    links.moves = 1  # the link is refused once (another write to the return); the retry re-captures
    result = service.replace(original.order_id, ret.return_id)
    assert len(store.orders) == 2 and result["exchange_order_id"] in store.orders


def test_an_exchange_not_received_in_full_or_closed_gets_no_replacement() -> None:
    for status in (ReturnStatus.PARTIALLY_RECEIVED, ReturnStatus.CLOSED):
        service, store, original, _ = exchange(status)
        result = service.replace(original.order_id, original.returns[0].return_id)
        assert result["exchange_order_id"] is None and len(store.orders) == 1


def test_a_refund_return_is_not_an_exchange() -> None:
    service, store, original, _ = exchange()
    store.orders[original.order_id] = replace(original, returns=(replace(original.returns[0],
                                                                           outcome=ReturnOutcome.REFUND),))
    with pytest.raises(NotFound):
        service.replace(original.order_id, original.returns[0].return_id)


def test_the_replacement_is_invoiced_at_0_00_settled_without_the_provider_and_completes() -> None:
    service, store, original, _ = exchange()
    made = store.orders[service.replace(original.order_id, original.returns[0].return_id)["exchange_order_id"]]
    shipment = Shipment(shipment_id=shipment_id_for(made.order_id, 1), order_id=made.order_id, node_id="N0",
                        lines=(ShipmentLine("1", "A-BLUE", 1),), requested_at=NOW, status=ShipmentStatus.DISPATCHED)
    made = replace(made, status=OrderStatus.SHIPPED, shipments=(shipment,))
    invoicing, invoices, provider = service_for(made)
    issued = invoicing.issue(made.order_id, shipment.shipment_id)
    settled = invoicing.settle(made.order_id, issued["invoice_number"])
    assert issued["gross"] == "0.00" and settled == {**settled, "payment": "nothing_to_capture", "completed": True}
    assert provider.captures == [] and invoices.orders[made.order_id].status == OrderStatus.COMPLETED
