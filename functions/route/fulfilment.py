"""The nodes' side of fulfilment: their open requests, and dispatch confirmations (carrier and
tracking), which move the order to PARTIALLY_SHIPPED or SHIPPED. No AWS here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from functions.core.errors import Conflict, NotFound
from functions.core.events import utc_now
from functions.core.orders import (
    Order,
    OrderStatus,
    Shipment,
    ShipmentStatus,
    TimelineEntry,
    order_id_of,
    request_view,
    sources,
)
from functions.core.principal import Principal

from .planning import ship_to
from .ports import OrderReader, ShipmentStore, StockShort

#: An order a node may dispatch a shipment of (the transition table's word).
DISPATCHABLE = sources(OrderStatus.SHIPPED) | sources(OrderStatus.PARTIALLY_SHIPPED)


@dataclass
class FulfilmentService:
    orders: OrderReader
    store: ShipmentStore
    clock: Callable[[], str] = utc_now

    def requests(self, principal: Principal, status: ShipmentStatus, *, limit: int, token: str | None
                 ) -> tuple[list[dict[str, Any]], str | None]:
        return self.store.requests(principal.principal_id, status, limit=limit, token=token)

    def dispatch(self, shipment_id: str, principal: Principal, carrier: str, tracking_number: str) -> dict[str, Any]:
        for _ in range(3):  # another shipment of the order may be dispatched at the same moment
            order, shipment = self._find(shipment_id, principal)
            if shipment.status == ShipmentStatus.DISPATCHED:
                if (shipment.carrier, shipment.tracking_number) == (carrier, tracking_number):
                    return request_view(shipment, ship_to(order), order.shipping_method)  # a repeat
                raise Conflict(f"shipment {shipment_id} was already dispatched with {shipment.carrier} "
                               f"{shipment.tracking_number}")
            if shipment.status == ShipmentStatus.CANCELLED or order.status not in DISPATCHABLE:
                raise Conflict(f"shipment {shipment_id} is {shipment.status.value} and its order "
                               f"{order.status.value}: it must not be dispatched")
            still_open = [s for s in order.shipments if s.status == ShipmentStatus.REQUESTED]
            target = OrderStatus.SHIPPED if len(still_open) == 1 else OrderStatus.PARTIALLY_SHIPPED
            at = self.clock()
            sets = {"carrier": carrier, "tracking_number": tracking_number, "dispatched_at": at}
            # the entry sits on the shipment, which holds node and time: only what identifies it
            entry = TimelineEntry(at=at, event="ShipmentDispatched", detail={
                "shipment_id": shipment_id, "carrier": carrier, "tracking_number": tracking_number})
            try:
                self.store.dispatch(order, shipment, target, sets, entry)
            except StockShort as refused:  # answered at once: no re-read makes the units appear
                raise Conflict(short_detail(shipment_id, refused)) from refused
            except Conflict:
                continue
            done = Shipment(**{**vars(shipment), "status": ShipmentStatus.DISPATCHED, **sets})
            return request_view(done, ship_to(order), order.shipping_method)
        raise Conflict(f"shipment {shipment_id} keeps changing; try again")

    def _find(self, shipment_id: str, principal: Principal) -> tuple[Order, Shipment]:
        order_id = order_id_of(shipment_id)
        order = self.orders.get(order_id) if order_id else None
        shipment = next((s for s in order.shipments if s.shipment_id == shipment_id), None) if order else None
        if order is None or shipment is None or shipment.node_id != principal.principal_id:
            raise NotFound(f"shipment {shipment_id} does not exist")  # another node's does not exist for you
        return order, shipment


def short_detail(shipment_id: str, refused: StockShort) -> str:
    """What a node is told when its stock records do not hold what it ships, and what to do."""
    records = "; ".join(f"the stock record of {a.sku} at {a.node_id} holds fewer than {a.quantity} units"
                        for a in refused.short)
    fixes = ", ".join(f"PUT /inventory/{a.sku}/nodes/{a.node_id}" for a in refused.short)
    return (f"shipment {shipment_id} was not dispatched: {records}: correct the stock ({fixes}) "
            f"or reject the request")
