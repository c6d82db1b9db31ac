"""Step Functions task ``FlagForFinance``: the Catch of a failed invoicing run. The shipment
stays dispatched; the order goes on finance's review list with the error, never a silent loss."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.core.handlers.entrypoints import task_handler
from functions.core.handlers.observability import MetricUnit, logger, metrics
from functions.invoice.wiring import invoice_service


@dataclass(frozen=True)
class FlagInput:
    order_id: str
    shipment_id: str
    #: The execution's state when the error was caught: ``error`` and, if issued, ``invoice``.
    state: dict[str, Any] = field(default_factory=dict)


@task_handler(FlagInput)
def lambda_handler(event: FlagInput, context: LambdaContext) -> dict[str, Any]:
    invoice = event.state.get("invoice") or {}
    result = invoice_service().flag(event.order_id, event.shipment_id, invoice.get("invoice_number"),
                                    event.state.get("error"))
    logger.warning("invoicing failed; order flagged for finance", extra=result)
    if result["flagged"]:
        metrics.add_metric(name="FinanceReviews", unit=MetricUnit.Count, value=1)
    return result
