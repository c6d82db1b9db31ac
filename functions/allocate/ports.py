"""What the allocate use cases need from storage."""

from __future__ import annotations

from typing import Protocol

from functions.core.sourcing import Node, StockLevel

__all__ = ["StockLevel", "StockStore"]


class StockStore(Protocol):
    def nodes(self) -> list[Node]: ...
    def levels(self, sku: str) -> list[StockLevel]: ...
    def set_on_hand(self, sku: str, node_id: str, on_hand: int, at: str) -> StockLevel: ...
