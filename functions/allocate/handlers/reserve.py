"""Step Functions task ``Reserve``: reserve the plan all-or-nothing and request its shipments
from the nodes, in one write — in parts for a plan too large for one (raises StockMoved)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.allocate.wiring import reservation_service
from functions.core.handlers.entrypoints import task_handler
from functions.core.handlers.observability import MetricUnit, metrics
from functions.core.sourcing import Allocation


@dataclass(frozen=True)
class AllocationIn:
    line_id: str
    sku: str
    node_id: str
    quantity: int


@dataclass(frozen=True)
class ReserveInput:
    order_id: str
    execution_id: str
    allocations: list[AllocationIn]
    #: where the shipments go (from Plan, which read the order)
    ship_to: dict[str, Any]
    shipping_method: str


@task_handler(ReserveInput)
def lambda_handler(event: ReserveInput, context: LambdaContext) -> dict[str, Any]:
    allocations = [Allocation(a.line_id, a.sku, a.node_id, a.quantity) for a in event.allocations]
    result = reservation_service().reserve(event.order_id, event.execution_id, allocations, event.ship_to,
                                           event.shipping_method)
    if result["reserved"]:
        metrics.add_metric(name="OrdersAllocated", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="ShipmentsRequested", unit=MetricUnit.Count, value=len(result["shipments"]))
    return result
