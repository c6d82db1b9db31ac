"""Step Functions task ``FlagRefundForFinance``: the Catch of a failed return_processing run.
The receipt stays received; its unrefunded credit note is marked FAILED and the order goes on
finance's review list with the error, never a silent loss."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.core.handlers.entrypoints import task_handler
from functions.core.handlers.observability import MetricUnit, logger, metrics
from functions.invoice.wiring import refund_service


@dataclass(frozen=True)
class RefundFlagInput:
    order_id: str
    return_id: str
    receipt_id: str
    #: The execution's state when the error was caught (``error``).
    state: dict[str, Any] = field(default_factory=dict)


@task_handler(RefundFlagInput)
def lambda_handler(event: RefundFlagInput, context: LambdaContext) -> dict[str, Any]:
    result = refund_service().flag(event.order_id, event.return_id, event.receipt_id, event.state.get("error"))
    logger.warning("return processing failed; order flagged for finance", extra=result)
    if result["flagged"]:
        metrics.add_metric(name="FinanceReviews", unit=MetricUnit.Count, value=1)
    return result
