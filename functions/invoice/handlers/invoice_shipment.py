"""Step Functions task ``InvoiceShipment``: the dispatched shipment's invoice, numbered
gaplessly, its amount captured (or booked on account), and the order COMPLETED when every
shipment is invoiced and settled — once, however often it runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.core.handlers.entrypoints import task_handler
from functions.core.handlers.observability import MetricUnit, metrics
from functions.invoice.wiring import invoice_service


@dataclass(frozen=True)
class InvoiceShipmentInput:
    order_id: str
    shipment_id: str


@task_handler(InvoiceShipmentInput)
def lambda_handler(event: InvoiceShipmentInput, context: LambdaContext) -> dict[str, Any]:
    result = invoice_service().invoice_shipment(event.order_id, event.shipment_id)
    if result["issued"]:
        metrics.add_metric(name="InvoicesIssued", unit=MetricUnit.Count, value=1)
    if result["payment"] == "captured":
        metrics.add_metric(name="PaymentsCaptured", unit=MetricUnit.Count, value=1)
    if result["completed"]:
        metrics.add_metric(name="OrdersCompleted", unit=MetricUnit.Count, value=1)
    return result
