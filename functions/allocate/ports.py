"""What the allocate use cases need from storage, and what the store answers with."""

from __future__ import annotations

from typing import Any, Protocol

from functions.core.orders import Shipment, TimelineEntry
from functions.core.sourcing import Allocation, Node, StockLevel

__all__ = ["PlanTooLarge", "ReservationStore", "StockLevel", "StockMoved", "StockStore"]


class StockMoved(Exception):
    """Some node no longer has the units the plan counted on: plan again (the workflow does)."""


class PlanTooLarge(Exception):
    """More shipments than one transaction can request (a plan over more than 97 nodes): a
    plan of many stock records is reserved in parts, never refused for them."""


class StockStore(Protocol):
    def nodes(self) -> list[Node]: ...
    def levels(self, sku: str) -> list[StockLevel]: ...
    def set_on_hand(self, sku: str, node_id: str, on_hand: int, at: str) -> StockLevel: ...


class ReservationStore(Protocol):
    def reserve(self, order_id: str, execution_id: str, allocations: list[Allocation], entry: TimelineEntry,
                shipments: list[Shipment], requested: list[TimelineEntry], ship_to: dict[str, Any],
                shipping_method: str) -> tuple[bool, str]:
        """The order moved to IN_FULFILLMENT with the plan reserved and its shipments written, at
        once (a plan too large for one transaction: its parts first, each once, then the
        status with the shipments): (True, status); (False, status) when a repeat or another
        execution got there first, having given back anything it reserved. Raises StockMoved
        (nothing left reserved), PlanTooLarge."""
        ...

    def backorder(self, order_id: str, execution_id: str, entry: TimelineEntry,
                  wanted: dict[str, int] | None = None) -> tuple[bool, str]:
        """The order moved to BACKORDERED, waiting for the ``wanted`` units of each SKU:
        (True, status); (False, status) when a repeat or another execution got there first."""
        ...
