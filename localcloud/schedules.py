"""EventBridge Scheduler for the local cloud: the deployed ``AWS::Scheduler::Schedule``s (held by
moto's scheduler backend, which fires nothing: ``patches/cloudformation_models.py`` creates
them) fire on the local time scale, and on demand.

- :func:`start` runs one thread per ENABLED ``rate(n unit)`` schedule: it invokes the target
  function with the target's ``Input`` every ``timescale.seconds(rate)`` real seconds (the first
  time one period after the deploy, as AWS does), asynchronously as Scheduler does; ``stop``
  ends them. ``cron()`` and ``at()`` expressions are not run on their own (none is deployed).
- ``POST /_local/schedules/{name}/run`` runs one now, synchronously, and answers the function's
  result: ``{"schedule", "target", "result", "function_error"}`` (404 for an unknown schedule).
  ``name`` is the schedule's name (``oms-local-reconcile``) or that without the stack's prefix
  (``reconcile``).
"""

from __future__ import annotations

import json
import logging
import re
import threading

from moto.scheduler.models import Schedule, scheduler_backends
from werkzeug.wrappers import Request, Response

from localcloud import ACCOUNT_ID, REGION, timescale
from localcloud.frontdoor import FrontDoor, register_local_route
from localcloud.patches.lambda_runtime import InvokeResult, invoke_sync

logger = logging.getLogger("localcloud.schedules")

_UNITS = {"minute": 60, "hour": 3600, "day": 86400}
_RATE = re.compile(r"^rate\((\d+) (minute|hour|day)s?\)$")
_threads: list[tuple[threading.Event, threading.Thread]] = []
_lock = threading.Lock()


def rate_seconds(expression: str) -> int | None:
    """``rate(5 minutes)`` → 300; None for any other expression."""
    found = _RATE.match(expression.strip())
    return int(found.group(1)) * _UNITS[found.group(2)] if found else None


def schedules() -> list[Schedule]:
    backend = scheduler_backends[ACCOUNT_ID][REGION]
    return [s for group in backend.schedule_groups.values() for s in group.schedules.values()]


def find(name: str) -> Schedule | None:
    """The schedule called ``name``, or whose name ends in ``-<name>`` (the stack's prefix left out)."""
    return next((s for s in schedules() if s.name == name or s.name.endswith(f"-{name}")), None)


def fire(schedule: Schedule) -> InvokeResult:
    """Invoke the schedule's target (a Lambda function) with its input, now, and wait for it."""
    target = schedule.target
    return invoke_sync(str(target["Arn"]), json.loads(target.get("Input") or "{}"))


def _loop(schedule: Schedule, period: float, stopped: threading.Event) -> None:
    while not stopped.wait(period):
        try:
            result = fire(schedule)
            if result.function_error:
                logger.warning("schedule %s: its target failed: %s", schedule.name, str(result.payload)[:300])
        except Exception:  # a failed run is the next run's to make good, as on AWS
            logger.exception("schedule %s: firing failed", schedule.name)


def start() -> None:
    """Run every ENABLED rate schedule of the local cloud on the local time scale."""
    stop()
    with _lock:
        for schedule in schedules():
            seconds = rate_seconds(schedule.schedule_expression)
            if schedule.state != "ENABLED" or seconds is None:
                continue
            stopped = threading.Event()
            thread = threading.Thread(target=_loop, args=(schedule, max(timescale.seconds(seconds), 0.05), stopped),
                                      name=f"schedule-{schedule.name}", daemon=True)
            thread.start()
            _threads.append((stopped, thread))


def stop() -> None:
    with _lock:
        for stopped, _ in _threads:
            stopped.set()
        for _, thread in _threads:
            thread.join(timeout=20)
        _threads.clear()


def _run_route(request: Request, door: FrontDoor) -> Response:
    parts = request.path.strip("/").split("/")  # _local/schedules/<name>/run
    if request.method != "POST" or len(parts) != 4 or parts[3] != "run":
        return Response("POST /_local/schedules/<name>/run", status=404)
    schedule = find(parts[2])
    if schedule is None:
        return Response(json.dumps({"error": f"no schedule {parts[2]!r}", "schedules": [s.name for s in schedules()]}),
                        status=404, content_type="application/json")
    result = fire(schedule)
    body = {"schedule": schedule.name, "target": schedule.target["Arn"], "result": result.payload,
            "function_error": result.function_error}
    return Response(json.dumps(body, default=str), status=200, content_type="application/json")


register_local_route("schedules/*", _run_route)
