"""Step Functions task ``Plan``: source the order over the node network."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.core.observability import logger, metrics
from functions.core.tasks import task
from functions.route.service import plan_service


@dataclass(frozen=True)
class PlanInput:
    order_id: str


@logger.inject_lambda_context(correlation_id_path="order_id")
@metrics.log_metrics(capture_cold_start_metric=True)
@task(PlanInput)
def lambda_handler(event: PlanInput, context: LambdaContext) -> dict[str, Any]:
    return plan_service().plan(event.order_id)
