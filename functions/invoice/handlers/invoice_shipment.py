"""Step Functions task ``InvoiceShipment``: the dispatched shipment's invoice, numbered
gaplessly, its amount captured (or booked on account), and the order COMPLETED when every
shipment is invoiced and settled — once, however often it runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.core.observability import MetricUnit, logger, metrics
from functions.core.tasks import task
from functions.invoice.service import invoice_service


@dataclass(frozen=True)
class InvoiceShipmentInput:
    order_id: str
    shipment_id: str


@logger.inject_lambda_context(correlation_id_path="order_id")
@metrics.log_metrics(capture_cold_start_metric=True)
@task(InvoiceShipmentInput)
def lambda_handler(event: InvoiceShipmentInput, context: LambdaContext) -> dict[str, Any]:
    result = invoice_service().invoice_shipment(event.order_id, event.shipment_id)
    if result["issued"]:
        metrics.add_metric(name="InvoicesIssued", unit=MetricUnit.Count, value=1)
    if result["payment"] == "captured":
        metrics.add_metric(name="PaymentsCaptured", unit=MetricUnit.Count, value=1)
    if result["completed"]:
        metrics.add_metric(name="OrdersCompleted", unit=MetricUnit.Count, value=1)
    return result
