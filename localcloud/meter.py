"""Count what a piece of work costs in AWS requests, on the local stack.

- AWS API calls, counted with a botocore ``before-call`` event hook on boto3's default session
  (every function's clients and the Step Functions interpreter's service integrations use it),
  attributed to the Lambda function making them (``caller``), or to ``states`` for the calls
  the workflow engine makes outside any function (its Lambda task invocations);
- Lambda invocations per function, from the local runtime (API Gateway, event source mappings
  and Step Functions all invoke through it);
- API Gateway requests, counted by the front door (``/_local/`` routes are not the API).

``GET /_local/requests`` shows the counts since the last ``POST /_local/requests/reset``;
``POST /_local/settle`` waits until the stack is idle, so a client can measure one piece of
work without counting its own polling. Not deployed: on AWS the same figures come from
CloudTrail and CloudWatch.
"""

from __future__ import annotations

import collections
import contextvars
import json
import math
import threading
from typing import Any

from werkzeug.wrappers import Request, Response

_caller: contextvars.ContextVar[str | None] = contextvars.ContextVar("oms_local_caller", default=None)
_lock = threading.Lock()
_calls: collections.Counter[tuple[str, str, str]] = collections.Counter()
_invocations: collections.Counter[str] = collections.Counter()
_billed_ms: collections.Counter[str] = collections.Counter()  # per function, each run rounded up to 1 ms
_api: collections.Counter[str] = collections.Counter()
_installed_on: set[int] = set()


def enter_function(name: str) -> contextvars.Token[str | None]:
    """The Lambda runtime marks the thread as running ``name`` (AWS calls are attributed to it)."""
    with _lock:
        _invocations[name] += 1
    return _caller.set(name)


def exit_function(token: contextvars.Token[str | None], seconds: float = 0.0) -> None:
    name = _caller.get()
    _caller.reset(token)
    if name is not None:
        with _lock:
            _billed_ms[name] += max(1, math.ceil(seconds * 1000))


def api_request(method: str, path: str) -> None:
    with _lock:
        _api[f"{method} {path}"] += 1


def _before_call(model: Any = None, **_: Any) -> None:
    if model is None:
        return
    service = model.service_model.endpoint_prefix
    with _lock:
        _calls[(_caller.get() or "states", service, model.name)] += 1


def install() -> None:
    """Hook boto3's default session (idempotent)."""
    import boto3

    if boto3.DEFAULT_SESSION is None:
        boto3.setup_default_session()
    session = boto3.DEFAULT_SESSION
    assert session is not None
    if id(session) not in _installed_on:
        session.events.register("before-call", _before_call)
        _installed_on.add(id(session))


def reset() -> None:
    with _lock:
        _calls.clear()
        _invocations.clear()
        _billed_ms.clear()
        _api.clear()


def snapshot() -> dict[str, Any]:
    """``aws``: calls by service and operation (and by caller), ``lambda_invocations`` by
    function, ``api_requests`` by method and path, and the totals."""
    with _lock:
        calls, invocations, api, billed = dict(_calls), dict(_invocations), dict(_api), dict(_billed_ms)
    by_operation: collections.Counter[str] = collections.Counter()
    by_service: collections.Counter[str] = collections.Counter()
    by_caller: dict[str, dict[str, int]] = collections.defaultdict(dict)
    for (caller, service, operation), n in calls.items():
        by_operation[f"{service}.{operation}"] += n
        by_service[service] += n
        by_caller[caller][f"{service}.{operation}"] = n
    return {
        "aws_calls": {"total": sum(by_service.values()), "by_service": dict(by_service),
                      "by_operation": dict(by_operation), "by_caller": dict(by_caller)},
        "lambda_invocations": {"total": sum(invocations.values()), "by_function": invocations,
                               # local wall time, a proxy for AWS's billed duration (1 ms granularity)
                               "billed_ms_by_function": billed, "billed_ms_total": sum(billed.values())},
        "api_requests": {"total": sum(api.values()), "by_route": api},
    }


def _requests_route(request: Request, door: Any) -> Response:
    return Response(json.dumps(snapshot(), indent=2), mimetype="application/json")


def _reset_route(request: Request, door: Any) -> Response:
    if request.method != "POST":
        return Response("POST to reset", status=405)
    reset()
    return Response(json.dumps(snapshot()), mimetype="application/json")


def _settle_route(request: Request, door: Any) -> Response:
    from localcloud.settle import settle

    if request.method != "POST":
        return Response("POST to wait until the local stack is idle", status=405)
    timeout = float(request.args.get("timeout", "30"))
    try:
        settle(timeout)
    except TimeoutError as exc:
        return Response(json.dumps({"idle": False, "busy": str(exc)}), status=504, mimetype="application/json")
    return Response(json.dumps({"idle": True}), mimetype="application/json")


def register_routes() -> None:
    from localcloud.frontdoor import register_local_route

    register_local_route("requests", _requests_route)
    register_local_route("requests/reset", _reset_route)
    register_local_route("settle", _settle_route)
