"""In-process Lambda runtime: moto 5.2.5 runs function code only in Docker.

moto's ``LambdaFunction._invoke_lambda`` starts a Docker container (there is no Docker here),
and ``LambdaFunction.invoke`` reports a raised exception as ``X-Amz-Function-Error: Handled``
where AWS says ``Unhandled``. This module replaces both: the handler runs in the calling thread
of this process, so invocations of different functions (and of the same function) run
concurrently exactly as far as their callers do, as on AWS.

Handler resolution: the ``Handler`` string is imported with ``importlib.import_module`` from
the host's ``sys.path``, not from the function's code zip. Every function of the OMS ships the
same asset whose root holds the ``functions`` package, so the host package *is* the deployed
code; importing it once keeps one module object per handler (shared caches, warm starts) and
avoids unpacking zips. The price: a zip that lacks the module still runs locally — the deploy
step (``localcloud.deploy``) checks the asset contains each handler's module instead.

Environment: all functions run in one process and share ``os.environ``. A function's
``Environment`` is applied before each call; if it needs a different value for a variable that
another live function already set, the invocation fails with ``EnvironmentConflict`` (and the
deploy check refuses such a stack up front), because two functions could never both see their
own value. The first value a function sets for a variable remembers what ``os.environ`` had
before; :func:`restore_environment` (``LocalCloud.stop``) puts those back.

:func:`invoke_sync` is the one synchronous invoke used by the front door and the pollers.
"""

from __future__ import annotations

import collections
import importlib
import json
import logging
import os
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from moto.awslambda.models import LambdaFunction
from moto.awslambda.utils import get_backend
from moto.utilities.arns import parse_arn

from localcloud import meter
from localcloud.patches import powertools_router_state

logger = logging.getLogger("localcloud.lambda")

Handler = Callable[[Any, "LambdaContext"], Any]


class EnvironmentConflict(RuntimeError):
    """Two functions of one process need different values for the same variable."""


class LambdaContext:
    """The ``context`` object of the AWS Python runtime (the attributes handlers use)."""

    def __init__(self, fn: LambdaFunction, request_id: str) -> None:
        self.function_name: str = fn.function_name
        self.function_version: str = "$LATEST"
        self.invoked_function_arn: str = fn.function_arn
        self.memory_limit_in_mb: int = int(fn.memory_size or 128)
        self.aws_request_id: str = request_id
        self.log_group_name: str = fn.logs_group_name
        self.log_stream_name: str = f"local/[$LATEST]{request_id.replace('-', '')}"
        self.identity: Any = None
        self.client_context: Any = None
        self._deadline = time.monotonic() + float(fn.timeout or 3)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass(frozen=True)
class Invocation:
    """One finished invocation (times are ``time.monotonic()`` seconds)."""

    function_name: str
    request_id: str
    started: float
    ended: float
    error: bool


class InvocationLog:
    """Bounded record of invocations plus the number in flight (read by ``settle`` and tests)."""

    def __init__(self, maxlen: int = 10_000) -> None:
        self._done: collections.deque[Invocation] = collections.deque(maxlen=maxlen)
        self._lock = threading.Lock()
        self._in_flight = 0

    def enter(self) -> None:
        """An invocation was accepted (it may not have started yet, e.g. an async one)."""
        with self._lock:
            self._in_flight += 1

    def exit(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def record(self, invocation: Invocation) -> None:
        with self._lock:
            self._done.append(invocation)

    @property
    def in_flight(self) -> int:
        with self._lock:
            return self._in_flight

    def snapshot(self, function_name: str | None = None) -> list[Invocation]:
        with self._lock:
            done = list(self._done)
        return [i for i in done if function_name is None or i.function_name == function_name]

    def clear(self) -> None:
        with self._lock:
            self._done.clear()


INVOCATIONS = InvocationLog()

_handlers: dict[str, Handler] = {}
_env_owners: dict[str, tuple[str, LambdaFunction]] = {}
_env_saved: dict[str, str | None] = {}  # os.environ before a function first set the key
_env_lock = threading.Lock()
_Owner = TypeVar("_Owner")


class _RuntimeError(Exception):
    """A failure of the runtime itself, reported with an AWS ``Runtime.*`` error type."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


def _resolve(handler: str) -> Handler:
    if handler in _handlers:
        return _handlers[handler]
    module_name, _, attr = handler.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise _RuntimeError("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}") from exc
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise _RuntimeError("Runtime.HandlerNotFound", f"Handler '{attr}' missing on module '{module_name}'")
    _handlers[handler] = fn
    return fn


def _is_live(fn: LambdaFunction) -> bool:
    """Is ``fn`` still a deployed function (and not left over from a reset moto)?"""
    try:
        current = get_backend(fn.account_id, fn.region).get_function(fn.function_name)
    except Exception:
        return False
    return current is fn


def _claim(
    owners: dict[str, tuple[str, _Owner]],
    claimant: _Owner,
    variables: Mapping[str, Any],
    name: Callable[[_Owner], str],
    gone: Callable[[_Owner], bool] = lambda _: False,
) -> dict[str, str]:
    """The one environment-conflict check: make ``claimant`` the owner of each variable's value
    (returned as strings), or raise ``EnvironmentConflict`` if an owner that is not ``gone``
    needs a different value. Nothing is claimed when it raises."""
    wanted = {key: str(value) for key, value in variables.items()}
    for key, value in wanted.items():
        owner = owners.get(key)
        if owner is not None and owner[0] != value and owner[1] != claimant and not gone(owner[1]):
            raise EnvironmentConflict(
                f"{key}: function {name(claimant)} needs {value!r} but {name(owner[1])} needs {owner[0]!r}; "
                "in-process functions share one os.environ"
            )
    for key, value in wanted.items():
        owners[key] = (value, claimant)
    return wanted


def check_shared_environment(functions: Iterable[tuple[str, Mapping[str, str]]]) -> None:
    """Raise ``EnvironmentConflict`` if two functions set one variable to different values."""
    owners: dict[str, tuple[str, str]] = {}
    for function_name, variables in functions:
        _claim(owners, function_name, variables, str)


def _apply_environment(fn: LambdaFunction) -> None:
    with _env_lock:
        wanted = _claim(
            _env_owners, fn, fn.environment_vars or {}, lambda f: f.function_name, lambda f: not _is_live(f)
        )
        for key, value in wanted.items():
            _env_saved.setdefault(key, os.environ.get(key))
            os.environ[key] = value


def restore_environment() -> None:
    """Put back what ``os.environ`` held before functions set their variables, and forget the
    owners (``LocalCloud.stop``; the next cloud's functions start from a clean slate)."""
    with _env_lock:
        for key, original in _env_saved.items():
            if original is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = original
        _env_saved.clear()
        _env_owners.clear()


def _error_payload(exc: BaseException, error_type: str, request_id: str) -> str:
    return json.dumps(
        {
            "errorMessage": str(exc),
            "errorType": error_type,
            "requestId": request_id,
            "stackTrace": traceback.format_list(traceback.extract_tb(exc.__traceback__)),
        }
    )


_environments: dict[str, threading.Lock] = {}
_environments_lock = threading.Lock()


def _environment_of(function_name: str) -> threading.Lock:
    """One execution environment per function: its invocations run one at a time.

    On AWS each environment serves one invocation at a time, so a handler may keep per-request
    state in module globals (Powertools' event resolvers keep ``current_event`` on the module's
    ``app``; batch processors keep their records). In one local process such state is shared
    by every thread, so two concurrent invocations of one function would read each other's
    event; different functions still run concurrently."""
    with _environments_lock:
        return _environments.setdefault(function_name, threading.Lock())


def run(fn: LambdaFunction, event: Any) -> tuple[str, bool]:
    """Call the handler of ``fn`` with ``event``: (JSON payload, function error?)."""
    with _environment_of(fn.function_name):
        return _run(fn, event)


def _run(fn: LambdaFunction, event: Any) -> tuple[str, bool]:
    request_id = str(uuid.uuid4())
    INVOCATIONS.enter()
    started = time.monotonic()
    error = True
    caller = meter.enter_function(fn.function_name)
    try:
        try:
            _apply_environment(fn)
            handler = _resolve(fn.handler)
            powertools_router_state.ensure()  # once Powertools is imported: its request per thread
            result = handler(event, LambdaContext(fn, request_id))
        except _RuntimeError as exc:
            return _error_payload(exc, exc.error_type, request_id), True
        except EnvironmentConflict as exc:
            logger.error("%s", exc)
            return _error_payload(exc, "LocalCloud.EnvironmentConflict", request_id), True
        except Exception as exc:
            # The AWS runtime writes an unhandled error with its traceback to the function's log.
            logger.error("%s %s: unhandled %s", fn.function_name, request_id, type(exc).__name__, exc_info=exc)
            return _error_payload(exc, type(exc).__name__, request_id), True
        try:
            payload = json.dumps(result)
        except (TypeError, ValueError) as exc:
            wrapped = _RuntimeError("Runtime.MarshalError", f"Unable to marshal response: {exc}")
            return _error_payload(wrapped, wrapped.error_type, request_id), True
        error = False
        return payload, False
    finally:
        meter.exit_function(caller, time.monotonic() - started)
        INVOCATIONS.record(Invocation(fn.function_name, request_id, started, time.monotonic(), error))
        INVOCATIONS.exit()


def _header(headers: Any, name: str) -> str | None:
    for key, value in dict(headers or {}).items():
        if key.lower() == name:
            return str(value)
    return None


def _invoke_lambda(self: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
    payload, error = run(self, {} if event is None else event)
    return payload, error, ""


def _invoke(self: LambdaFunction, body: Any, request_headers: Any, response_headers: Any) -> bytes:
    event = json.loads(body) if body else {}
    invocation_type = _header(request_headers, "x-amz-invocation-type") or "RequestResponse"
    if invocation_type == "DryRun":
        return b""
    if invocation_type == "Event":
        # Asynchronous invoke: AWS queues the event and answers 202 at once.
        INVOCATIONS.enter()  # counted from acceptance, so settle() waits for it

        def _run_async() -> None:
            try:
                run(self, event)
            finally:
                INVOCATIONS.exit()

        threading.Thread(target=_run_async, name=f"lambda-async-{self.function_name}", daemon=True).start()
        return b""
    payload, error = run(self, event)
    if error:
        response_headers["x-amz-function-error"] = "Unhandled"
    return payload.encode()


@dataclass(frozen=True)
class InvokeResult:
    """A synchronous invocation's payload (parsed JSON, or the raw text if it is not JSON, which
    callers treat as malformed) and whether the function failed."""

    payload: Any
    function_error: bool


def invoke_sync(function_arn: str, event: Any) -> InvokeResult:
    """Invoke ``function_arn`` (RequestResponse) with ``event`` through moto's Lambda backend."""
    arn = parse_arn(function_arn)
    headers: dict[str, str] = {}
    raw = get_backend(arn.account, arn.region).invoke(function_arn, None, json.dumps(event), {}, headers)
    text = raw.decode() if isinstance(raw, bytes) else raw
    try:
        payload = json.loads(text) if text else None
    except ValueError:
        payload = text
    return InvokeResult(payload, "x-amz-function-error" in headers)


def install() -> None:
    LambdaFunction._invoke_lambda = _invoke_lambda  # type: ignore[method-assign]
    LambdaFunction.invoke = _invoke  # type: ignore[method-assign,assignment]
