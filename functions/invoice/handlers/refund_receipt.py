"""Step Functions task ``RefundReceipt``: a receipt of a return credited (its credit notes,
numbered gaplessly), refunded through the payment provider or given back on account, and the
return REFUNDED once everything received is — once, however often it runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.core.handlers.entrypoints import task_handler
from functions.core.handlers.observability import MetricUnit, metrics
from functions.invoice.wiring import refund_service


@dataclass(frozen=True)
class RefundReceiptInput:
    order_id: str
    return_id: str
    receipt_id: str


@task_handler(RefundReceiptInput)
def lambda_handler(event: RefundReceiptInput, context: LambdaContext) -> dict[str, Any]:
    result = refund_service().refund_receipt(event.order_id, event.return_id, event.receipt_id)
    metrics.add_metric(name="ReceiptsCredited", unit=MetricUnit.Count, value=1)
    return result
