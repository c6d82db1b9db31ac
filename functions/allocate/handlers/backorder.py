"""Step Functions task ``Backorder``: no plan is possible, the order waits for stock."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.allocate.service import reservation_service
from functions.core.observability import MetricUnit, logger, metrics
from functions.core.tasks import task


@dataclass(frozen=True)
class BackorderInput:
    order_id: str
    execution_id: str
    reason: str = "NO_STOCK"


@logger.inject_lambda_context(correlation_id_path="order_id")
@metrics.log_metrics(capture_cold_start_metric=True)
@task(BackorderInput)
def lambda_handler(event: BackorderInput, context: LambdaContext) -> dict[str, Any]:
    result = reservation_service().backorder(event.order_id, event.execution_id, event.reason)
    if result["backordered"]:
        metrics.add_metric(name="OrdersBackordered", unit=MetricUnit.Count, value=1)
    return result
