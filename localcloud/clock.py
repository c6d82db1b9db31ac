"""``/_local/clock``: move the use cases' clock forward (API.md, "Local").

``POST {"advance": "P31D"}`` (an ISO 8601 duration: ``PT10M``, ``P1DT2H``, …) moves the clock of
every use case forward — return windows, due dates and ageing, SLAs, the reconciler's
thresholds, notice leases, key expiry (the front door's cached authorizer decisions age with
it) — in the process where the local functions run
(``functions/core/clock.py``); ``{"reset": true}`` goes back to real time; ``GET`` shows it.
Each answers ``{"now", "offset", "offset_seconds"}``. The clock never moves back: a negative or
unreadable duration is a 422 naming the field (a body not JSON a 400). Identifiers, DynamoDB TTL and the workflow
engine keep real time; scheduled jobs fire on the local time scale (``localcloud/schedules.py``),
not on this clock; the ``oms`` command line runs in its own process, on real time — but ``oms
finance export`` takes its "today" from ``GET`` here, and the finance archive files events by
this clock (``patches/firehose_delivery.py``, the envelope's ``time`` in
``patches/eventbridge_targets.py``). Reset does not rewind what was written while the clock was
ahead.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from pydantic import TypeAdapter, ValidationError
from werkzeug.wrappers import Request, Response

from functions.core import clock
from functions.core.events import utc_now
from localcloud.frontdoor import FrontDoor, LocalProblem, json_object, register_local_route

_DURATION = TypeAdapter(timedelta)
#: How far ahead of real time the clock may be moved in all (a century: dates stay representable).
MAX_OFFSET = timedelta(days=36525)


def _iso(delta: timedelta) -> str:
    """``delta`` as an ISO 8601 duration (days, then seconds)."""
    seconds = delta.total_seconds()
    days, rest = divmod(seconds, 86400)
    text = f"P{int(days)}D" if days else "P"
    if rest or not days:
        text += "T" + f"{rest:.3f}".rstrip("0").rstrip(".") + "S"
    return text


def view() -> dict[str, Any]:
    offset = clock.offset()
    return {"now": utc_now(), "offset": _iso(offset), "offset_seconds": offset.total_seconds()}


def _answer(body: dict[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


def _error(message: str) -> Response:
    return LocalProblem(422, message, "advance").response()


def reset(door: FrontDoor | None = None) -> None:
    """Back to real time; decisions the front door cached in the moved time hold no more."""
    clock.reset()
    if door is not None:
        door.forget_authorizations()


def _route(request: Request, door: FrontDoor) -> Response:
    if request.method == "GET":
        return _answer(view())
    if request.method != "POST":
        return Response("GET or POST", status=405)
    body = json_object(request, '{"advance": "P31D"} or {"reset": true}', "advance")
    if body.get("reset") is True:
        reset(door)
        return _answer(view())
    raw = body.get("advance")
    if not isinstance(raw, str):
        return _error('advance: an ISO 8601 duration, e.g. "P31D" or "PT10M"')
    try:
        by = _DURATION.validate_python(raw)
    except ValidationError:
        return _error(f"advance: {raw!r} is not an ISO 8601 duration (e.g. 'P31D', 'PT10M')")
    if by <= timedelta(0):
        return _error("advance: the clock only moves forward (a positive duration)")
    if clock.offset() + by > MAX_OFFSET:
        return _error(f"advance: the clock moves at most {MAX_OFFSET.days} days ahead of real time in all")
    clock.advance(by)
    door.pass_time(by.total_seconds())  # API Gateway's cached authorizer decisions age with it
    return _answer(view())


register_local_route("clock", _route)
