"""Fulfilment requests (written by Reserve) and dispatch decisions (route), on in-memory
stores: what a node experiences."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from functions.allocate.reservations import fulfilment_requests
from functions.capture.capturing import CaptureService
from functions.core.errors import Conflict, NotFound
from functions.core.orders import (
    Order,
    OrderStatus,
    Shipment,
    ShipmentStatus,
    TimelineEntry,
)
from functions.core.principal import Principal
from functions.core.sourcing import Allocation
from functions.route.fulfilment import FulfilmentService
from tests.unit.fakes import FakeOrderStore
from tests.unit.test_capture_logic import WEBSHOP, body

DC = Principal("node", "DC-BERLIN")
STORE = Principal("node", "STORE-MUNICH")


class Shipments:
    """Applies dispatch to the fake order store, with an injectable concurrent change."""

    def __init__(self, orders: FakeOrderStore) -> None:
        self.orders = orders
        self.races = 0

    def dispatch(self, order: Order, shipment: Shipment, target: OrderStatus, sets: dict[str, Any],
                 entry: TimelineEntry) -> None:
        if self.races:  # another shipment of the order was dispatched a moment earlier
            self.races -= 1
            other = next(s for s in order.shipments if s.shipment_id != shipment.shipment_id)
            self._apply(order.order_id, other, OrderStatus.PARTIALLY_SHIPPED,
                        {"carrier": "UPS", "tracking_number": "X", "dispatched_at": "2026-11-23T09:00:00.000Z"})
            raise Conflict("changed concurrently")
        current = self.orders.orders[order.order_id]
        if current.version != order.version:
            raise Conflict("changed concurrently")
        self._apply(order.order_id, shipment, target, sets)

    def _apply(self, order_id: str, shipment: Shipment, target: OrderStatus, sets: dict[str, Any]) -> None:
        current = self.orders.orders[order_id]
        shipped = tuple(replace(s, status=ShipmentStatus.DISPATCHED, **sets) if s.shipment_id == shipment.shipment_id
                        else s for s in current.shipments)
        self.orders.orders[order_id] = replace(current, status=target, version=current.version + 1, shipments=shipped)

    def requests(self, node_id: str, status: ShipmentStatus, *, limit: int, token: str | None
                 ) -> tuple[list[dict[str, Any]], str | None]:
        raise NotImplementedError


def allocated(allocations: list[Allocation]) -> tuple[FulfilmentService, FakeOrderStore, str]:
    """An order reserved and requested from its nodes (what Reserve writes)."""
    store = FakeOrderStore()
    order = CaptureService(store=store).capture(body(), WEBSHOP)
    store.orders[order.order_id] = replace(
        store.orders[order.order_id], status=OrderStatus.IN_FULFILLMENT, allocations=tuple(allocations),
        shipments=tuple(fulfilment_requests(order.order_id, allocations, "2026-11-24T00:00:00.000Z")))
    return FulfilmentService(orders=store, store=Shipments(store)), store, order.order_id


class Reservations:
    """Reserve's write in memory: CAPTURED -> IN_FULFILLMENT once, with the shipments."""

    def __init__(self, orders: FakeOrderStore) -> None:
        self.orders = orders
        self.entries: list[TimelineEntry] = []

    def reserve(self, order_id: str, execution_id: str, allocations: list[Allocation], entry: TimelineEntry,
                shipments: list[Shipment], requested: list[TimelineEntry], ship_to: dict[str, Any],
                shipping_method: str) -> tuple[bool, str]:
        current = self.orders.orders[order_id]
        if current.status != OrderStatus.CAPTURED:
            return current.status == OrderStatus.IN_FULFILLMENT, current.status.value
        self.orders.orders[order_id] = replace(current, status=OrderStatus.IN_FULFILLMENT,
                                               allocations=tuple(allocations), shipments=tuple(shipments))
        self.entries += [entry, *requested]
        return True, OrderStatus.IN_FULFILLMENT.value

    def backorder(self, order_id: str, execution_id: str, entry: TimelineEntry) -> tuple[bool, str]:
        raise NotImplementedError


def test_reserve_requests_one_shipment_per_node_and_a_repeat_changes_nothing() -> None:
    from functions.allocate.reservations import ReservationService

    store = FakeOrderStore()
    order = CaptureService(store=store).capture(body(), WEBSHOP)
    writes = Reservations(store)
    svc = ReservationService(store=writes, clock=lambda: "2026-11-24T00:00:00.000Z")
    plan = [Allocation("1", "MUG", "STORE-MUNICH", 1), Allocation("1", "MUG", "DC-BERLIN", 1)]
    first = svc.reserve(order.order_id, "exec", plan, {"name": "Ada"}, "standard")
    assert first["reserved"] and first["status"] == "IN_FULFILLMENT" and len(first["shipments"]) == 2
    shipments = store.orders[order.order_id].shipments
    assert [(s.node_id, s.status) for s in shipments] == [("DC-BERLIN", ShipmentStatus.REQUESTED),
                                                          ("STORE-MUNICH", ShipmentStatus.REQUESTED)]
    assert [e.event for e in writes.entries] == ["OrderAllocated", "ShipmentRequested", "ShipmentRequested"]
    again = svc.reserve(order.order_id, "exec", plan, {"name": "Ada"}, "standard")
    assert again["reserved"] is True and again["shipments"] == first["shipments"]  # same ids: derived
    assert store.orders[order.order_id].shipments == shipments and len(writes.entries) == 3


def test_two_shipments_dispatched_at_once_end_shipped_not_partially() -> None:
    svc, store, order_id = allocated([Allocation("1", "MUG", "DC-BERLIN", 1),
                                      Allocation("1", "MUG", "STORE-MUNICH", 1)])
    berlin = next(s for s in store.orders[order_id].shipments if s.node_id == "DC-BERLIN")
    shipments = svc.store
    assert isinstance(shipments, Shipments)
    shipments.races = 1  # Munich's confirmation lands between our read and our write
    view = svc.dispatch(berlin.shipment_id, DC, "DHL", "T-1")
    assert view["status"] == "DISPATCHED"
    assert store.orders[order_id].status == OrderStatus.SHIPPED  # re-read after the conflict: last one open


def test_repeat_conflict_other_node_and_cancelled_shipment() -> None:
    svc, store, order_id = allocated([Allocation("1", "MUG", "DC-BERLIN", 2)])
    (shipment,) = store.orders[order_id].shipments
    with pytest.raises(NotFound):
        svc.dispatch(shipment.shipment_id, STORE, "DHL", "T-1")  # not Munich's: does not exist for it
    first = svc.dispatch(shipment.shipment_id, DC, "DHL", "T-1")
    assert svc.dispatch(shipment.shipment_id, DC, "DHL", "T-1") == first  # a harmless repeat
    with pytest.raises(Conflict):
        svc.dispatch(shipment.shipment_id, DC, "DHL", "T-2")
    with pytest.raises(NotFound):
        svc.dispatch("shp_garbage", DC, "DHL", "T-1")


def test_a_cancelled_orders_shipment_may_not_be_dispatched() -> None:
    svc, store, order_id = allocated([Allocation("1", "MUG", "DC-BERLIN", 2)])
    (shipment,) = store.orders[order_id].shipments
    store.orders[order_id] = replace(store.orders[order_id], status=OrderStatus.CANCELLED,
                                     shipments=(replace(shipment, status=ShipmentStatus.CANCELLED),))
    with pytest.raises(Conflict):
        svc.dispatch(shipment.shipment_id, DC, "DHL", "T-1")
