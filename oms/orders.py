"""``oms orders resume ORDER_ID``: an operator's resume of one order stuck in a non-final status —
the reconciler's own decision and steps (functions/reconcile), as ``POST /orders/{id}/resume``
runs them, invoked with the operator's AWS credentials like ``oms keys``."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from oms.console import out
from oms.environment import Environment, connect
from oms.failures import OmsError

app = typer.Typer(help="Orders: resume one stuck in a non-final status (the reconciler's steps).",
                  no_args_is_help=True)


def reconciler_name(env: Environment) -> str:
    """The reconciler function, by the stack's naming convention (``oms-<env>-reconcile-run``)."""
    return f"{env.queue_prefix}reconcile-run"


def resume(env: Environment, order_id: str) -> dict[str, Any]:
    reply = env.client("lambda").invoke(FunctionName=reconciler_name(env), InvocationType="RequestResponse",
                                        Payload=json.dumps({"order_id": order_id}).encode())
    body = json.loads(reply["Payload"].read() or b"null")
    if reply.get("FunctionError") or not isinstance(body, dict):
        raise OmsError(f"the reconciler failed resuming {order_id}: {str(body)[:300]}")
    return body


@app.command("resume")
def resume_command(ctx: typer.Context, order_id: Annotated[str, typer.Argument(help="e.g. ord_01J…")]) -> None:
    """Run the steps ORDER_ID is owed now (its workflow again, an invoice, a capture, a completion,
    a notice never sent), or say what it legitimately waits for."""
    env = connect(ctx.obj.env)
    report = resume(env, order_id)
    if not report.get("found"):
        raise OmsError(f"no order {order_id} in {env.stack_name}")
    steps = report.get("steps") or []
    if not steps:
        if report.get("final"):
            raise OmsError(f"order {order_id} is {report['status']}, a final status: there is nothing to resume")
        out.print(f"order {order_id} ({report['status']}): nothing to resume — {report.get('waiting')}")
        return
    table = Table(title=f"order {order_id} ({report['status']}): resumed")
    for column in ("step", "for", "reason", "started"):
        table.add_column(column)
    for step in steps:
        table.add_row(step["action"], step.get("shipment_id") or step.get("notice") or "", step["reason"],
                      step.get("execution_name") or ("notice requested" if step["action"] == "send_notice" else ""))
    out.print(table)
