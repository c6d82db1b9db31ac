"""Step Functions task ``IssueInvoice``: the dispatched shipment's invoice, numbered gaplessly, once."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import BaseModel, event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.core.observability import MetricUnit, logger, metrics, tracer
from functions.invoice.service import invoice_service


class IssueInput(BaseModel):
    order_id: str
    shipment_id: str


@logger.inject_lambda_context(correlation_id_path="order_id")
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
@event_parser(model=IssueInput)
def lambda_handler(event: IssueInput, context: LambdaContext) -> dict[str, Any]:
    result = invoice_service().issue(event.order_id, event.shipment_id)
    if result["issued"]:
        metrics.add_metric(name="InvoicesIssued", unit=MetricUnit.Count, value=1)
    return result
