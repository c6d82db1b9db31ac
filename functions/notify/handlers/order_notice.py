"""Step Functions task ``Notify``: tell the customer where the order workflow got to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.core.handlers.entrypoints import task_handler
from functions.notify.wiring import notice_service


@dataclass(frozen=True)
class NoticeInput:
    order_id: str
    kind: Literal["order_confirmed", "order_backordered"]


@task_handler(NoticeInput)
def lambda_handler(event: NoticeInput, context: LambdaContext) -> dict[str, Any]:
    return {"order_id": event.order_id, "notices": notice_service().notify(event.order_id, event.kind)}
