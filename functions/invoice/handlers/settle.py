"""Step Functions task ``SettleInvoice``: capture the invoice's amount (or book it on account)
once, then complete the order when every shipment is invoiced and settled."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import BaseModel, event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.core.observability import MetricUnit, logger, metrics, tracer
from functions.invoice.service import invoice_service


class SettleInput(BaseModel):
    order_id: str
    invoice_number: str


@logger.inject_lambda_context(correlation_id_path="order_id")
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
@event_parser(model=SettleInput)
def lambda_handler(event: SettleInput, context: LambdaContext) -> dict[str, Any]:
    result = invoice_service().settle(event.order_id, event.invoice_number)
    if result["payment"] == "captured":
        metrics.add_metric(name="PaymentsCaptured", unit=MetricUnit.Count, value=1)
    if result["completed"]:
        metrics.add_metric(name="OrdersCompleted", unit=MetricUnit.Count, value=1)
    return result
