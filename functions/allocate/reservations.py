"""Reserve a plan all-or-nothing, or backorder the order. No AWS here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from functions.core.events import utc_now
from functions.core.orders import TimelineEntry
from functions.core.sourcing import Allocation


class StockMoved(Exception):
    """Some node no longer has the units the plan counted on: plan again."""


class ReservationStore(Protocol):
    def reserve(self, order_id: str, execution_id: str, allocations: list[Allocation],
                entry: TimelineEntry) -> tuple[bool, str]: ...
    def backorder(self, order_id: str, execution_id: str, entry: TimelineEntry) -> tuple[bool, str]: ...


@dataclass
class ReservationService:
    store: ReservationStore
    clock: Callable[[], str] = utc_now

    def reserve(self, order_id: str, execution_id: str, allocations: list[Allocation]) -> dict[str, Any]:
        """Reserve every allocation and mark the order ALLOCATED, or nothing at all.

        Raises StockMoved when a node has fewer units than planned. Running it again for the
        same execution changes nothing and answers ``reserved`` again.
        """
        nodes = sorted({a.node_id for a in allocations})
        entry = TimelineEntry(at=self.clock(), event="OrderAllocated", detail={
            "nodes": nodes,
            "plan": [{"line_id": a.line_id, "sku": a.sku, "node_id": a.node_id, "quantity": a.quantity}
                     for a in allocations]})
        reserved, status = self.store.reserve(order_id, execution_id, allocations, entry)
        return {"order_id": order_id, "reserved": reserved, "status": status}

    def backorder(self, order_id: str, execution_id: str, reason: str) -> dict[str, Any]:
        entry = TimelineEntry(at=self.clock(), event="OrderBackordered", detail={"reason": reason})
        backordered, status = self.store.backorder(order_id, execution_id, entry)
        return {"order_id": order_id, "backordered": backordered, "status": status}
