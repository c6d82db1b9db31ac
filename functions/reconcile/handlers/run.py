"""The reconciler's entry point: a scheduled run over the open orders (EventBridge Scheduler,
input ``{}``), or one order an operator resumes (``{"order_id": …}``, invoked by the orders
API's ``POST /orders/{id}/resume``), answering what it did."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.core.handlers.entrypoints import task_handler
from functions.core.handlers.observability import MetricUnit, metrics
from functions.reconcile.wiring import reconciler


@dataclass(frozen=True)
class ReconcileInput:
    order_id: str | None = None


@task_handler(ReconcileInput)
def lambda_handler(event: ReconcileInput, context: LambdaContext) -> dict[str, Any]:
    if event.order_id is None:
        report = reconciler().run()
        metrics.add_metric(name="OrdersReconciled", unit=MetricUnit.Count, value=report["resumed"])
        return report
    resumed = reconciler().resume(event.order_id)
    if resumed is None:
        return {"order_id": event.order_id, "found": False}
    d = resumed.decision
    return {"order_id": resumed.order_id, "found": True, "status": resumed.status, "final": d.final,
            "waiting": d.waiting, "steps": list(resumed.started)}
