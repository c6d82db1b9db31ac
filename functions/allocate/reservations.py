"""Reserve a plan all-or-nothing and request its shipments from the nodes, or backorder the
order. No AWS here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from functions.core.events import utc_now
from functions.core.orders import Shipment, TimelineEntry, fulfilment_requests
from functions.core.sourcing import Allocation


class StockMoved(Exception):
    """Some node no longer has the units the plan counted on: plan again."""


class ReservationStore(Protocol):
    def reserve(self, order_id: str, execution_id: str, allocations: list[Allocation], entry: TimelineEntry,
                shipments: list[Shipment], requested: list[TimelineEntry], ship_to: dict[str, Any],
                shipping_method: str) -> tuple[bool, str]: ...
    def backorder(self, order_id: str, execution_id: str, entry: TimelineEntry) -> tuple[bool, str]: ...


@dataclass
class ReservationService:
    store: ReservationStore
    clock: Callable[[], str] = utc_now

    def reserve(self, order_id: str, execution_id: str, allocations: list[Allocation], ship_to: dict[str, Any],
                shipping_method: str) -> dict[str, Any]:
        """Reserve every allocation and request one shipment per node (IN_FULFILLMENT), or
        nothing at all — one transaction: the stock is never reserved for an order whose
        fulfilment requests are missing, and no separate Release step re-reads the order.

        Raises StockMoved when a node has fewer units than planned. Running it again for the
        same execution changes nothing and answers ``reserved`` again.
        """
        at = self.clock()
        shipments = fulfilment_requests(order_id, allocations, at)
        # the plan itself is the header's ``allocation`` (on the same item): not repeated here
        entry = TimelineEntry(at=at, event="OrderAllocated", detail={"nodes": [s.node_id for s in shipments]})
        requested = [TimelineEntry(at=at, event="ShipmentRequested", detail={
            "shipment_id": s.shipment_id, "node_id": s.node_id, "units": sum(ln.quantity for ln in s.lines)})
            for s in shipments]
        reserved, status = self.store.reserve(order_id, execution_id, allocations, entry, shipments, requested,
                                              ship_to, shipping_method)
        return {"order_id": order_id, "reserved": reserved, "status": status,
                "shipments": [s.shipment_id for s in shipments] if reserved else []}

    def backorder(self, order_id: str, execution_id: str, reason: str) -> dict[str, Any]:
        entry = TimelineEntry(at=self.clock(), event="OrderBackordered", detail={"reason": reason})
        backordered, status = self.store.backorder(order_id, execution_id, entry)
        return {"order_id": order_id, "backordered": backordered, "status": status}
