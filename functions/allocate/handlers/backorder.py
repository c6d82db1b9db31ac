"""Step Functions task ``Backorder``: no plan is possible, the order waits for stock."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.allocate.wiring import reservation_service
from functions.core.handlers.entrypoints import task_handler
from functions.core.handlers.observability import MetricUnit, metrics


@dataclass(frozen=True)
class WantedIn:
    sku: str
    quantity: int


@dataclass(frozen=True)
class BackorderInput:
    order_id: str
    execution_id: str
    #: the units of each SKU the order waits for (from Plan, which read the order)
    wanted: list[WantedIn] = field(default_factory=list)
    reason: str = "NO_STOCK"


@task_handler(BackorderInput)
def lambda_handler(event: BackorderInput, context: LambdaContext) -> dict[str, Any]:
    result = reservation_service().backorder(event.order_id, event.execution_id, event.reason,
                                             [(w.sku, w.quantity) for w in event.wanted])
    if result["backordered"]:
        metrics.add_metric(name="OrdersBackordered", unit=MetricUnit.Count, value=1)
    return result
