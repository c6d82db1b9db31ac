"""What the allocate use cases need from storage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from functions.core.sourcing import Node


@dataclass(frozen=True)
class StockLevel:
    sku: str
    node_id: str
    on_hand: int
    reserved: int
    updated_at: str | None = None

    @property
    def available(self) -> int:
        return max(0, self.on_hand - self.reserved)  # never below 0, even after a recount


class StockStore(Protocol):
    def nodes(self) -> list[Node]: ...
    def levels(self, sku: str) -> list[StockLevel]: ...
    def set_on_hand(self, sku: str, node_id: str, on_hand: int, at: str) -> StockLevel: ...
