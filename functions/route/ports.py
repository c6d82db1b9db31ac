"""What the route use cases need from the outside world."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from functions.core.orders import Order, OrderStatus, Shipment, ShipmentStatus, TimelineEntry
from functions.core.ports import OrderReader
from functions.core.sourcing import Allocation, Node, StockLevel

if TYPE_CHECKING:
    from .nodes import ManagedNode

__all__ = ["NetworkView", "NodeStore", "OrderReader", "ShipmentStore", "StockLevels", "StockShort", "StockView"]


class StockLevels(Protocol):
    """A SKU's stock records, one per node (consistent)."""

    def levels(self, sku: str) -> list[StockLevel]: ...

    def version_and_levels(self, skus: Sequence[str], node_ids: Sequence[str]) -> tuple[int, list[StockLevel]]:
        """The node network's version and the records of ``skus`` at ``node_ids``, in one read."""
        ...


class StockView(Protocol):
    def snapshot(self, skus: Sequence[str]) -> tuple[list[Node], list[StockLevel]]:
        """The node network and the stock records of ``skus``, both current (consistent reads)."""
        ...


class NetworkView(Protocol):
    """The node network as stored, with its version (moved by every node write)."""

    def nodes(self) -> list[Node]: ...
    def version(self) -> int: ...


class NodeStore(Protocol):
    def get(self, node_id: str) -> ManagedNode | None:
        """The node as last written (a consistent read), or None."""
        ...

    def put(self, node: ManagedNode, *, expected_version: int | None) -> None:
        """Write the node — new if ``expected_version`` is None, else only over that version —
        and move the network's version, at once; Conflict if the node moved since it was read."""
        ...

    def listing(self, *, limit: int, token: str | None) -> tuple[list[ManagedNode], str | None]: ...

    def every_node(self) -> list[ManagedNode]:
        """The whole network, every page read (no paging token: operators' tools have no key to sign one)."""
        ...


class StockShort(Exception):
    """A dispatch refused because these stock records (per SKU and node, the units the shipment
    takes from each) hold fewer units than it ships: the record was edited around the API. No
    retry helps; the stock must be corrected (or the request rejected) first."""

    def __init__(self, short: list[Allocation]) -> None:
        super().__init__(", ".join(f"{a.sku} at {a.node_id}: {a.quantity}" for a in short))
        self.short = short


class ShipmentStore(Protocol):
    def dispatch(self, order: Order, shipment: Shipment, target: OrderStatus, sets: dict[str, Any],
                 entry: TimelineEntry) -> None:
        """REQUESTED -> DISPATCHED with the order moved to ``target``, at the version read, the
        stock shipped; Conflict if anything moved since, StockShort if a stock record does not
        hold the units."""
        ...

    def requests(self, node_id: str, status: ShipmentStatus, *, limit: int, token: str | None
                 ) -> tuple[list[dict[str, Any]], str | None]: ...
