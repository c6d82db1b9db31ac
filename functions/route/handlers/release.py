"""Step Functions task ``Release``: the reserved plan becomes fulfilment requests to nodes."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import BaseModel, event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.core.observability import MetricUnit, logger, metrics, tracer
from functions.route.service import fulfilment_service


class ReleaseInput(BaseModel):
    order_id: str
    execution_id: str


@logger.inject_lambda_context(correlation_id_path="order_id")
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
@event_parser(model=ReleaseInput)
def lambda_handler(event: ReleaseInput, context: LambdaContext) -> dict[str, Any]:
    result = fulfilment_service().release(event.order_id, event.execution_id)
    if result["released"]:
        metrics.add_metric(name="ShipmentsRequested", unit=MetricUnit.Count, value=len(result["shipments"]))
    return result
