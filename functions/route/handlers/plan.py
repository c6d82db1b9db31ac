"""Step Functions task ``Plan``: source the order over the node network."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.core.handlers.entrypoints import task_handler
from functions.route.wiring import plan_service


@dataclass(frozen=True)
class PlanInput:
    order_id: str


@task_handler(PlanInput)
def lambda_handler(event: PlanInput, context: LambdaContext) -> dict[str, Any]:
    return plan_service().plan(event.order_id)
