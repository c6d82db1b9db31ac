"""Distributed order management: which node ships which units (issue 3's sourcing rules).

1. One node that can ship everything, if any can.
2. Otherwise the fewest nodes; a line's quantity may split across nodes.
3. Ties go to a node in the destination country, then to the node's priority (1 first), then
   to the node id — so the same stock always gives the same plan.

An inactive node (``active`` false: closed, paused by an agent) is no candidate: it gets no new
fulfilment requests, whatever stock it still holds; its open requests stay its own.

Exact for the networks an OMS like this serves (the number of candidate node sets grows as
2^n; above ``EXACT_LIMIT`` nodes holding stock the fewest-nodes search turns greedy).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

EXACT_LIMIT = 12


@dataclass(frozen=True)
class Node:
    node_id: str
    country: str
    priority: int
    kind: str = "DC"
    cutoff: str = "15:00"
    active: bool = True
    #: The IANA time zone ``cutoff`` is local to.
    timezone: str = "UTC"


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


@dataclass(frozen=True)
class Demand:
    line_id: str
    sku: str
    quantity: int


@dataclass(frozen=True)
class Allocation:
    line_id: str
    sku: str
    node_id: str
    quantity: int


@dataclass(frozen=True)
class Plan:
    allocations: tuple[Allocation, ...]

    @property
    def node_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(a.node_id for a in self.allocations))


def rank(node: Node, destination_country: str) -> tuple[int, int, str]:
    return (0 if node.country == destination_country else 1, node.priority, node.node_id)


def plan(demand: Sequence[Demand], nodes: Sequence[Node], available: Mapping[tuple[str, str], int],
         destination_country: str) -> Plan | None:
    """The plan, or None when the network cannot ship the whole order (it is backordered).

    ``available`` maps ``(sku, node_id)`` to units available (on hand minus reserved).
    """
    needed: dict[str, int] = defaultdict(int)
    for d in demand:
        needed[d.sku] += d.quantity
    ranked = sorted((n for n in nodes if n.active), key=lambda n: rank(n, destination_country))
    useful = [n for n in ranked if any(available.get((sku, n.node_id), 0) > 0 for sku in needed)]

    def covers(chosen: Sequence[Node]) -> bool:
        return all(sum(available.get((sku, n.node_id), 0) for n in chosen) >= qty for sku, qty in needed.items())

    if not covers(useful):
        return None
    chosen = _fewest_nodes(useful, covers)
    return Plan(allocations=tuple(_assign(demand, chosen, available)))


def _fewest_nodes(useful: list[Node], covers: Callable[[Sequence[Node]], bool]) -> list[Node]:
    single = next((n for n in useful if covers([n])), None)  # rule 1 holds whatever the network's size
    if single is not None:
        return [single]
    if len(useful) <= EXACT_LIMIT:
        for size in range(1, len(useful) + 1):
            # combinations() keeps the ranked order, so the first covering set is the best-ranked one
            for combo in combinations(useful, size):
                if covers(combo):
                    return list(combo)
    chosen: list[Node] = []
    for node in useful:  # greedy: best-ranked nodes until covered
        chosen.append(node)
        if covers(chosen):
            return chosen
    return chosen


def _assign(demand: Sequence[Demand], chosen: Sequence[Node], available: Mapping[tuple[str, str], int]
            ) -> list[Allocation]:
    """Fill each line from the chosen nodes in rank order; a line splits only when it must."""
    left = {(sku, n.node_id): available.get((sku, n.node_id), 0) for sku in {d.sku for d in demand} for n in chosen}
    out: list[Allocation] = []
    for d in demand:
        # a node that can take the whole line first, so lines split only when no single node can
        whole = next((n for n in chosen if left[(d.sku, n.node_id)] >= d.quantity), None)
        order = [whole] if whole else list(chosen)
        remaining = d.quantity
        for n in order:
            take = min(remaining, left[(d.sku, n.node_id)])
            if take > 0:
                out.append(Allocation(d.line_id, d.sku, n.node_id, take))
                left[(d.sku, n.node_id)] -= take
                remaining -= take
            if remaining == 0:
                break
    return out


def per_stock_record(allocations: list[Allocation]) -> list[Allocation]:
    """Allocations merged per (sku, node): one stock update each, whatever the lines."""
    merged: dict[tuple[str, str], int] = {}
    for a in allocations:
        merged[(a.sku, a.node_id)] = merged.get((a.sku, a.node_id), 0) + a.quantity
    return [Allocation("", sku, node, qty) for (sku, node), qty in merged.items()]


def allocations_from(raw: list[dict[str, Any]] | None) -> list[Allocation]:
    return [Allocation(a["line_id"], a["sku"], a["node_id"], int(a["quantity"])) for a in raw or []]


def allocations_to(allocations: list[Allocation]) -> list[dict[str, Any]]:
    return [{"line_id": a.line_id, "sku": a.sku, "node_id": a.node_id, "quantity": a.quantity} for a in allocations]
