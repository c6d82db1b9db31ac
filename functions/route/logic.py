"""Route use cases: Plan (which node ships what; Reserve then reserves it and requests the
shipments in one write) and the nodes' side — their open requests and dispatch
confirmations. No AWS here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

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
)
from functions.core.principal import Principal
from functions.core.sourcing import Demand, Node, StockLevel, allocations_to, plan

PLANNABLE = (OrderStatus.CAPTURED, OrderStatus.BACKORDERED)
DISPATCHABLE = (OrderStatus.IN_FULFILLMENT, OrderStatus.PARTIALLY_SHIPPED)


class OrderReader(Protocol):
    def get(self, order_id: str) -> Order | None: ...


class StockView(Protocol):
    def nodes(self) -> list[Node]: ...
    def levels(self, sku: str) -> list[StockLevel]: ...


class ShipmentStore(Protocol):
    def dispatch(self, order: Order, shipment: Shipment, target: OrderStatus, sets: dict[str, Any],
                 entry: TimelineEntry) -> None: ...
    def requests(self, node_id: str, status: ShipmentStatus, *, limit: int, token: str | None
                 ) -> tuple[list[dict[str, Any]], str | None]: ...


@dataclass
class PlanService:
    orders: OrderReader
    stock: StockView

    def plan(self, order_id: str) -> dict[str, Any]:
        order = self.orders.get(order_id)
        if order is None or order.status not in PLANNABLE:
            # cancelled (or moved on) while the workflow ran: nothing to plan
            return {"order_id": order_id, "planned": False, "plannable": False, "allocations": [],
                    "ship_to": {}, "shipping_method": ""}
        demand = [Demand(ln.line_id, ln.sku, ln.quantity) for ln in order.lines]
        available = {(lv.sku, lv.node_id): lv.available for sku in {d.sku for d in demand}
                     for lv in self.stock.levels(sku)}
        result = plan(demand, self.stock.nodes(), available, order.shipping_address.country)
        # where the shipments go travels with the plan: Reserve writes them without reading the order
        return {"order_id": order_id, "planned": result is not None, "plannable": True,
                "allocations": allocations_to(list(result.allocations)) if result else [],
                "ship_to": _ship_to(order), "shipping_method": order.shipping_method}


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
                    return request_view(shipment, _ship_to(order), order.shipping_method)  # a repeat
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
            except Conflict:
                continue
            done = Shipment(**{**vars(shipment), "status": ShipmentStatus.DISPATCHED, **sets})
            return request_view(done, _ship_to(order), order.shipping_method)
        raise Conflict(f"shipment {shipment_id} keeps changing; try again")

    def _find(self, shipment_id: str, principal: Principal) -> tuple[Order, Shipment]:
        order_id = order_id_of(shipment_id)
        order = self.orders.get(order_id) if order_id else None
        shipment = next((s for s in order.shipments if s.shipment_id == shipment_id), None) if order else None
        if order is None or shipment is None or shipment.node_id != principal.principal_id:
            raise NotFound(f"shipment {shipment_id} does not exist")  # another node's does not exist for you
        return order, shipment


def _ship_to(order: Order) -> dict[str, Any]:
    return {k: v for k, v in vars(order.shipping_address).items() if v is not None}
