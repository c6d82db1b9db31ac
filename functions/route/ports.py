"""What the route use cases need from the outside world."""

from __future__ import annotations

from typing import Any, Protocol

from functions.core.orders import Order, OrderStatus, Shipment, ShipmentStatus, TimelineEntry
from functions.core.ports import OrderReader
from functions.core.sourcing import Node, StockLevel

__all__ = ["OrderReader", "ShipmentStore", "StockView"]


class StockView(Protocol):
    def nodes(self) -> list[Node]: ...
    def levels(self, sku: str) -> list[StockLevel]: ...


class ShipmentStore(Protocol):
    def dispatch(self, order: Order, shipment: Shipment, target: OrderStatus, sets: dict[str, Any],
                 entry: TimelineEntry) -> None:
        """REQUESTED -> DISPATCHED with the order moved to ``target``, at the version read;
        Conflict if anything moved since."""
        ...

    def requests(self, node_id: str, status: ShipmentStatus, *, limit: int, token: str | None
                 ) -> tuple[list[dict[str, Any]], str | None]: ...
