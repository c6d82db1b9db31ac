"""The Plan step: which node ships which units of an order, from current availability."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from functions.core.adapters.stock import allocations_to
from functions.core.orders import Order, OrderStatus
from functions.core.sourcing import Demand, Node, StockLevel, plan

PLANNABLE = (OrderStatus.CAPTURED, OrderStatus.BACKORDERED)


class OrderReader(Protocol):
    def get(self, order_id: str) -> Order | None: ...


class StockView(Protocol):
    def nodes(self) -> list[Node]: ...
    def levels(self, sku: str) -> list[StockLevel]: ...


@dataclass
class PlanService:
    orders: OrderReader
    stock: StockView

    def plan(self, order_id: str) -> dict[str, Any]:
        order = self.orders.get(order_id)
        if order is None or order.status not in PLANNABLE:
            # cancelled (or moved on) while the workflow ran: nothing to plan
            return {"order_id": order_id, "planned": False, "plannable": False, "allocations": []}
        demand = [Demand(ln.line_id, ln.sku, ln.quantity) for ln in order.lines]
        available = {(lv.sku, lv.node_id): lv.available for sku in {d.sku for d in demand}
                     for lv in self.stock.levels(sku)}
        result = plan(demand, self.stock.nodes(), available, order.shipping_address.country)
        return {"order_id": order_id, "planned": result is not None, "plannable": True,
                "allocations": allocations_to(list(result.allocations)) if result else []}
