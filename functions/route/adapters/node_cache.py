"""The node network cached per container for planning."""

from __future__ import annotations

from typing import Any

from functions.core.sourcing import Node, StockLevel


class CachedNodes:
    """A stock reader whose node network is read at most once per ``ttl`` seconds per container.

    Nodes change rarely (opening a store, a new cut-off) while every plan needs the network:
    caching it saves one query per order. A stale network is harmless for correctness — the
    reservation's conditions check the stock itself — and a change applies within ``ttl``."""

    def __init__(self, reader: Any, ttl: float = 60.0, clock: Any = None) -> None:
        import time

        self._reader = reader
        self._ttl = ttl
        self._clock = clock or time.monotonic
        self._cached: tuple[float, list[Node]] | None = None

    def nodes(self) -> list[Node]:
        now = self._clock()
        if self._cached is None or now - self._cached[0] >= self._ttl:
            self._cached = (now, self._reader.nodes())
        return list(self._cached[1])

    def levels(self, sku: str) -> list[StockLevel]:
        levels: list[StockLevel] = self._reader.levels(sku)
        return levels
