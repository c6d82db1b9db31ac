"""Backordered orders waiting for stock, and which of them a restock tries next. No AWS here.

A backordered order waits on every SKU of its lines (not only the ones it lacked: stock it had
may be gone by the time the missing SKU arrives). A restock of a SKU tries its waiting orders
oldest first, one at a time, each run to its end before the next starts, so an older order
takes the units before a younger one can; an order the units cannot satisfy (it needs more of
this SKU than is available, or another SKU it waits on is short) stays waiting and the next
one is tried (first fit in age order: a large old order does not hold up smaller younger
ones). Used by allocate (Backorder writes the waiting entries) and capture (the stream
consumer that runs the orders' workflows again when stock rose).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Waiting:
    """One backordered order waiting for ``sku``: ``quantity`` units of it across its lines;
    ``skus`` every SKU the order waits on (its other entries, removed with this one)."""

    order_id: str
    backordered_at: str
    sku: str
    quantity: int
    skus: tuple[str, ...]


def wanted_per_sku(lines: Iterable[tuple[str, int]]) -> dict[str, int]:
    """(sku, quantity) lines as the units wanted of each SKU, SKUs sorted."""
    out: dict[str, int] = {}
    for sku, quantity in lines:
        out[sku] = out.get(sku, 0) + int(quantity)
    return dict(sorted(out.items()))


def oldest_first(waiting: Iterable[Waiting]) -> list[Waiting]:
    """By backorder time, then order id (the sort key's own order)."""
    return sorted(waiting, key=lambda w: (w.backordered_at, w.order_id))


def next_to_try(waiting: Sequence[Waiting], available: int, tried: set[str]) -> Waiting | None:
    """The oldest waiting order not tried yet whose units of this SKU are available now, or
    None: nothing more this restock can allocate."""
    for w in oldest_first(waiting):
        if w.order_id not in tried and w.quantity <= available:
            return w
    return None

