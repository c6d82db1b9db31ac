"""Step Functions task ``CreateReplacement`` (return_processing, outcome ``EXCHANGE``): the
exchange's replacement order captured once, at no charge, and the return EXCHANGED naming it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.capture.wiring import exchange_service
from functions.core.handlers.entrypoints import task_handler
from functions.core.handlers.observability import MetricUnit, metrics


@dataclass(frozen=True)
class ExchangeInput:
    order_id: str
    return_id: str
    receipt_id: str | None = None


@task_handler(ExchangeInput)
def lambda_handler(event: ExchangeInput, context: LambdaContext) -> dict[str, Any]:
    result = exchange_service().replace(event.order_id, event.return_id)
    if result["status"] == "EXCHANGED":
        metrics.add_metric(name="ExchangesReplaced", unit=MetricUnit.Count, value=1)
    return result
