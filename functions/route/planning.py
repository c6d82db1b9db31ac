"""Plan: which node ships which units of an order (the sourcing rules of ``core/sourcing.py``
over the network's availability); Reserve (allocate) then reserves the plan and requests its
shipments in one write. No AWS here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from functions.core.orders import Order, OrderStatus, sources
from functions.core.sourcing import Demand, allocations_to, plan

from .ports import OrderReader, StockView

#: An order may be planned while Reserve may still move it into fulfilment (the transition table's word).
PLANNABLE = sources(OrderStatus.IN_FULFILLMENT)


def ship_to(order: Order) -> dict[str, Any]:
    """Where the order's shipments go, as a node reads it."""
    return {k: v for k, v in vars(order.shipping_address).items() if v is not None}


@dataclass
class PlanService:
    orders: OrderReader
    stock: StockView

    def plan(self, order_id: str) -> dict[str, Any]:
        order = self.orders.get(order_id)
        if order is None or order.status not in PLANNABLE:
            # cancelled (or moved on) while the workflow ran: nothing to plan
            return {"order_id": order_id, "planned": False, "plannable": False, "allocations": [],
                    "ship_to": {}, "shipping_method": "", "wanted": []}
        demand = [Demand(ln.line_id, ln.sku, ln.quantity) for ln in order.lines]
        nodes, levels = self.stock.snapshot(sorted({d.sku for d in demand}))
        available = {(lv.sku, lv.node_id): lv.available for lv in levels}
        result = plan(demand, nodes, available, order.shipping_address.country)
        # where the shipments go travels with the plan: Reserve writes them without reading the order
        return {"order_id": order_id, "planned": result is not None, "plannable": True,
                "allocations": allocations_to(list(result.allocations)) if result else [],
                "ship_to": ship_to(order), "shipping_method": order.shipping_method,
                # with no plan, what the order waits for (Backorder writes it down per SKU)
                "wanted": [] if result else [{"sku": d.sku, "quantity": d.quantity} for d in demand]}
