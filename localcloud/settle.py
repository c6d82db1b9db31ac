"""Wait until the local cloud is idle, so tests and the demo never need sleeps."""

from __future__ import annotations

import time

from moto.stepfunctions.parser.models import stepfunctions_parser_backends

from localcloud.patches import event_source_pollers
from localcloud.patches.lambda_runtime import INVOCATIONS

_POLL = 0.005


def _running_executions() -> int:
    running = 0
    for account in list(stepfunctions_parser_backends.values()):
        for backend in list(account.values()):
            for machine in list(backend.state_machines):
                running += sum(1 for e in list(machine.executions) if e.status == "RUNNING")
    return running


def busy() -> list[str]:
    """What is still going on (empty when idle)."""
    reasons = []
    if INVOCATIONS.in_flight:
        reasons.append(f"{INVOCATIONS.in_flight} Lambda invocation(s) in flight")
    pollers = [p for p in event_source_pollers.active() if p.pending()]
    if pollers:
        reasons.append("undelivered records/messages for " + ", ".join(p.esm.event_source_arn for p in pollers))
    running = _running_executions()
    if running:
        reasons.append(f"{running} Step Functions execution(s) RUNNING")
    return reasons


def settle(timeout: float = 10.0) -> None:
    """Block until no invocation, undelivered stream record, queued message of a mapped queue or
    RUNNING execution is left, seen twice in a row (work hands over between these stages).

    Raises ``TimeoutError`` naming what is still busy.
    """
    deadline = time.monotonic() + timeout
    idle_checks = 0
    while idle_checks < 2:
        reasons = busy()
        if reasons:
            idle_checks = 0
            if time.monotonic() > deadline:
                raise TimeoutError("local cloud not idle after {:.1f}s: {}".format(timeout, "; ".join(reasons)))
        else:
            idle_checks += 1
        time.sleep(_POLL)
