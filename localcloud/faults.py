"""Fault injection on the local cloud: one chosen AWS call of one chosen function fails.

A fault names the function making the call (``caller``, as the meter names it: the Lambda
function's name, or ``states`` for the workflow engine's own calls), the call
(``service.Operation``, as the meter's ``by_caller`` lists it, e.g. ``dynamodb.TransactWriteItems``)
and how it fails (``kind``):

- ``throttle``: AWS refuses the call with its throttling error (nothing happened);
- ``timeout``: the caller's connection times out before the call reached AWS (nothing
  happened; botocore's ``ConnectTimeoutError``);
- ``lost``: the call is carried out, then its answer is lost — the caller sees a read timeout
  (``ReadTimeoutError``) although the write happened (SES, SNS and a write without a condition
  cannot tell a repeat).

``mode`` ``once`` fails the first matching call only — every attempt of it (botocore's
``amz-sdk-invocation-id``), so the function itself meets the failure once, past the client's
retries; ``persistent`` fails every matching call
until the fault is lifted (``DELETE /_local/faults``). ``match`` (optional) limits a fault to the
calls whose request carries one of the given strings (a test's SKU, customer email or
idempotency key): many scenarios can share one local cloud, each with its own fault. Any call
carrying one of a fault's strings that names an order (``ord_…``) adds that order id to them,
so the calls a later step makes for the same order (which name only its key) match too.

Faults are injected at the HTTP layer, under botocore's own retries (``before-send``), so the
client's retry handling is exercised as in AWS: after a ``lost`` answer the client's second
attempt meets what the first one wrote (a condition refused, a duplicate message). Routes:
``GET /_local/faults`` (the faults and how often each fired), ``POST /_local/faults`` (a JSON
fault, or a list: 201 with each one's ``id``), ``DELETE /_local/faults[?id=…]`` (lift one, or
all; answers with the faults lifted and how often each fired). Local only; nothing is deployed.
"""

from __future__ import annotations

import io
import json
import re
import threading
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from werkzeug.wrappers import Request, Response

KINDS = ("throttle", "timeout", "lost")
MODES = ("once", "persistent")
#: How each service answers an error (botocore's protocol of its model): JSON with ``__type``
#: (the default), rest-JSON with the type in a header, or query XML.
_REST_JSON = {"lambda", "sesv2", "scheduler"}
_QUERY = {"ses", "sns"}
#: botocore's service ids (event names) → the meter's endpoint prefixes (``by_caller``)
_PREFIX = {"sfn": "states", "eventbridge": "events", "secrets-manager": "secretsmanager",
           "dynamodb-streams": "streams.dynamodb", "sesv2": "email", "ses": "email"}
_ORDER_ID = re.compile(r"ord_[0-9A-Za-z]{10,}")


@dataclass
class Fault:
    caller: str
    call: str  # service.Operation
    kind: str
    mode: str = "once"
    match: list[str] = field(default_factory=list)
    fired: int = 0
    #: the botocore invocation (every attempt of one call) a ``once`` fault fails
    invocation: str | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind: one of {', '.join(KINDS)}")
        if self.mode not in MODES:
            raise ValueError(f"mode: one of {', '.join(MODES)}")
        if "." not in self.call:
            raise ValueError("call: service.Operation, e.g. dynamodb.PutItem")


_lock = threading.Lock()
_faults: list[Fault] = []
_installed_on: set[int] = set()


def add(fault: Fault) -> Fault:
    with _lock:
        _faults.append(fault)
    return fault


def clear(fault_id: str | None = None) -> list[Fault]:
    """Lift one fault (by id), or all."""
    with _lock:
        gone = [f for f in _faults if fault_id in (None, f.id)]
        _faults[:] = [f for f in _faults if f not in gone]
    return gone


def faults() -> list[Fault]:
    with _lock:
        return list(_faults)


def _body_text(request: Any) -> str:
    body = request.body
    if body is None:
        return ""
    if hasattr(body, "read"):  # a stream: not the calls this project makes; never consume it
        return ""
    return body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)


def _due(caller: str | None, call: str, text: str, invocation: str | None) -> Fault | None:
    """The fault this call meets, if any (counted as fired)."""
    with _lock:
        ids = set(_ORDER_ID.findall(text))
        for fault in _faults:  # learn the order ids a journey's calls name: a later step names only the order
            if ids and fault.match and any(m in text for m in fault.match):
                fault.match.extend(i for i in ids if i not in fault.match)
        for fault in _faults:
            if fault.caller != (caller or "states") or fault.call != call:
                continue
            if fault.match and not any(m in text for m in fault.match):
                continue
            if fault.mode == "once":
                if fault.fired and (invocation is None or invocation != fault.invocation):
                    continue
                fault.invocation = invocation
            fault.fired += 1
            return fault
    return None


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body

    def read(self, *_: Any) -> bytes:
        return self._body


def _throttled(service_id: str, url: str) -> Any:
    from botocore.awsrequest import AWSResponse

    message = "Rate exceeded (local fault injection)"
    if service_id in _REST_JSON:
        body = json.dumps({"message": message}).encode()
        headers = {"Content-Type": "application/json", "x-amzn-ErrorType": "TooManyRequestsException",
                   "x-amzn-RequestId": "fault"}
        return AWSResponse(url, 429, headers, _Raw(body))
    if service_id not in _QUERY:
        body = json.dumps({"__type": "ThrottlingException", "message": message}).encode()
        headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": "fault"}
        return AWSResponse(url, 400, headers, _Raw(body))
    body = (f"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>{message}</Message>"
            "</Error><RequestId>fault</RequestId></ErrorResponse>").encode()
    return AWSResponse(url, 400, {"Content-Type": "text/xml"}, _Raw(body))


def _before_send(request: Any = None, event_name: str = "", **_: Any) -> Any:
    if request is None or not _faults:
        return None
    from localcloud.meter import current_caller

    service_id, operation = event_name.split(".", 2)[1:]
    call = f"{_PREFIX.get(service_id, service_id)}.{operation}"
    invocation = request.headers.get("amz-sdk-invocation-id")
    fault = _due(current_caller(), call, _body_text(request),
                 invocation.decode() if isinstance(invocation, bytes) else invocation)
    if fault is None:
        return None
    from botocore.exceptions import ConnectTimeoutError, ReadTimeoutError

    if fault.kind == "throttle":
        return _throttled(service_id, request.url)
    if fault.kind == "timeout":  # never reached AWS: the caller knows nothing happened
        raise ConnectTimeoutError(endpoint_url=request.url)
    from botocore.httpsession import URLLib3Session

    URLLib3Session().send(request)  # the call happens; its answer never reaches the caller
    raise ReadTimeoutError(endpoint_url=request.url)


def install() -> None:
    """Hook boto3's default session (idempotent), as the meter does."""
    from localcloud.meter import hook_default_session

    hook_default_session(_installed_on, (("before-send", _before_send),))


def _view() -> Response:
    return Response(json.dumps({"faults": [asdict(f) for f in faults()]}), mimetype="application/json")


def _route(request: Request, door: Any) -> Response:
    if request.method == "GET":
        return _view()
    if request.method == "DELETE":  # answers with the faults lifted (how often each fired)
        gone = clear(request.args.get("id"))
        return Response(json.dumps({"faults": [asdict(f) for f in gone]}), mimetype="application/json")
    if request.method != "POST":
        return Response("GET, POST or DELETE", status=405)
    try:
        body = json.load(io.BytesIO(request.get_data()))
        added = [add(Fault(caller=str(spec["caller"]), call=str(spec["call"]), kind=str(spec["kind"]),
                           mode=str(spec.get("mode", "once")), match=[str(m) for m in spec.get("match", [])]))
                 for spec in (body if isinstance(body, list) else [body])]
    except (ValueError, KeyError, TypeError) as exc:
        return Response(json.dumps({"error": f"a fault is caller, call, kind[, mode, match]: {exc}"}),
                        status=400, mimetype="application/json")
    return Response(json.dumps({"faults": [asdict(f) for f in added]}), status=201, mimetype="application/json")


def register_routes() -> None:
    from localcloud.frontdoor import register_local_route

    register_local_route("faults", _route)
