"""Reserve a plan all-or-nothing and request its shipments from the nodes, or backorder the
order. No AWS here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from functions.core.events import utc_now
from functions.core.orders import Shipment, ShipmentLine, ShipmentStatus, TimelineEntry, shipment_id_for
from functions.core.sourcing import Allocation

from .ports import ReservationStore


def fulfilment_requests(order_id: str, allocations: list[Allocation], at: str) -> list[Shipment]:
    """One REQUESTED shipment per node of a reserved plan, numbered by node id (derived ids:
    writing them twice is writing them once)."""
    by_node: dict[str, list[ShipmentLine]] = {}
    for a in allocations:
        by_node.setdefault(a.node_id, []).append(ShipmentLine(a.line_id, a.sku, a.quantity))
    return [Shipment(shipment_id=shipment_id_for(order_id, n), order_id=order_id, node_id=node,
                     status=ShipmentStatus.REQUESTED, lines=tuple(lines), requested_at=at)
            for n, (node, lines) in enumerate(sorted(by_node.items()), start=1)]


@dataclass
class ReservationService:
    store: ReservationStore
    clock: Callable[[], str] = utc_now

    def reserve(self, order_id: str, execution_id: str, allocations: list[Allocation], ship_to: dict[str, Any],
                shipping_method: str) -> dict[str, Any]:
        """Reserve every allocation and request one shipment per node (IN_FULFILLMENT), or
        nothing at all — one transaction: the stock is never reserved for an order whose
        fulfilment requests are missing, and no separate Release step re-reads the order. (A
        plan of more stock records than one transaction takes is reserved in parts, the
        status and shipments written last, and given back if it cannot finish: the store's.)

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

    def backorder(self, order_id: str, execution_id: str, reason: str,
                  wanted: list[tuple[str, int]] | None = None) -> dict[str, Any]:
        """BACKORDERED, waiting for the ``wanted`` (sku, quantity) lines: a restock of any of
        its SKUs runs its workflow again (oldest first: ``core/backorders.py``)."""
        from functions.core.backorders import wanted_per_sku  # the Backorder task only: Reserve never loads it

        entry = TimelineEntry(at=self.clock(), event="OrderBackordered", detail={"reason": reason})
        backordered, status = self.store.backorder(order_id, execution_id, entry, wanted_per_sku(wanted or []))
        return {"order_id": order_id, "backordered": backordered, "status": status}
