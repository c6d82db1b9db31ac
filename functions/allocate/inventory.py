"""Inventory and availability (with promise dates): a node's stock, a SKU's stock across the
network, and whether lines can ship, from where and by when. No AWS here: storage comes in
through ``StockStore``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from functions.core.clock import now as clock_now
from functions.core.errors import Forbidden, NotFound
from functions.core.events import utc_now
from functions.core.principal import Principal
from functions.core.sourcing import Demand, Node, plan

from .ports import StockLevel, StockStore
from .promise import promised_delivery


@dataclass(frozen=True)
class AvailabilityQuery:
    """Can these (sku, quantity) lines ship to ``country`` by ``shipping_method``, and by when."""

    lines: tuple[tuple[str, int], ...]
    country: str
    shipping_method: str = "standard"


def level_view(level: StockLevel) -> dict[str, Any]:
    return {"sku": level.sku, "node_id": level.node_id, "on_hand": level.on_hand, "reserved": level.reserved,
            "available": level.available, "updated_at": level.updated_at}


@dataclass
class InventoryService:
    store: StockStore
    clock: Callable[[], str] = utc_now
    now: Callable[[], datetime] = clock_now

    def set_on_hand(self, sku: str, node_id: str, on_hand: int, principal: Principal) -> dict[str, Any]:
        """A node sets its own stock; an agent sets any node's."""
        if principal.role == "node" and principal.principal_id != node_id:
            # another principal's resource does not exist for you (API.md, "Access")
            raise NotFound(f"node {node_id} does not exist")
        if principal.role not in ("node", "agent"):
            raise Forbidden(f"role {principal.role!r} may not set stock")
        if node_id not in {n.node_id for n in self.store.nodes()}:
            raise NotFound(f"node {node_id} does not exist")
        return level_view(self.store.set_on_hand(sku, node_id, on_hand, self.clock()))

    def inventory(self, sku: str) -> dict[str, Any]:
        levels = sorted(self.store.levels(sku), key=lambda lv: lv.node_id)
        return {"sku": sku, "nodes": [level_view(lv) for lv in levels],
                "available": sum(lv.available for lv in levels)}

    def availability(self, request: AvailabilityQuery) -> dict[str, Any]:
        """Per line: can the network ship it, from where, and by when.

        The whole request is planned as one order (as Plan would source it); a line the
        whole-order plan cannot cover is then answered on its own.
        """
        nodes = self.store.nodes()
        skus = {sku for sku, _ in request.lines}
        stock = {(lv.sku, lv.node_id): lv.available for sku in skus for lv in self.store.levels(sku)}
        country = request.country
        demand = [Demand(str(i + 1), sku, quantity) for i, (sku, quantity) in enumerate(request.lines)]
        whole = plan(demand, nodes, stock, country)
        by_id = {n.node_id: n for n in nodes}
        now = self.now()
        out = []
        for d in demand:
            line_plan = whole if whole is not None else plan([d], nodes, stock, country)
            shares = [a for a in (line_plan.allocations if line_plan else ()) if a.line_id == d.line_id]
            if not shares:
                out.append({"sku": d.sku, "quantity": d.quantity, "available": False, "node_id": None,
                            "promised_delivery_date": None})
                continue
            main = max(shares, key=lambda a: a.quantity).node_id
            promise = max(_promise(now, by_id[a.node_id], request.shipping_method, country) for a in shares)
            out.append({"sku": d.sku, "quantity": d.quantity, "available": True, "node_id": main,
                        "promised_delivery_date": promise})
        return {"lines": out}


def _promise(now: datetime, node: Node, method: str, country: str) -> str:
    return promised_delivery(now, cutoff=node.cutoff, method=method, domestic=node.country == country).isoformat()
