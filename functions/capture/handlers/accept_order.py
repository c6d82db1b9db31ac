"""Step Functions task ``AcceptOrder``: bind the order to this execution exactly once."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import BaseModel, event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.capture.service import workflow_service
from functions.core.observability import logger, metrics, tracer


class AcceptOrderInput(BaseModel):
    order_id: str
    execution_id: str


@logger.inject_lambda_context(correlation_id_path="order_id")
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
@event_parser(model=AcceptOrderInput)
def lambda_handler(event: AcceptOrderInput, context: LambdaContext) -> dict[str, Any]:
    return workflow_service().accept(event.order_id, event.execution_id)
