"""Background pollers for Lambda event source mappings (shared by the SQS and stream patches).

moto 5.2.5 delivers SQS messages and DynamoDB stream records to Lambda *inside the sender's
call* (``Queue.add_message`` / ``StreamShard.add``). On AWS a separate poller fleet reads the
source after the write returned. Here each mapping gets one background thread that owns it:
creating a mapping starts its poller and detaches the mapping from the moto source object, so
moto's synchronous delivery never runs; deleting the mapping (or resetting moto) ends it, and
:func:`stop_all` (``LocalCloud.stop``) ends every poller. moto registers the mapping on the
source and the poller detaches it under the source's lock (``register_source``'s ``guard``), so
no write can slip in between and be delivered by moto. Disabling a mapping
(``UpdateEventSourceMapping Enabled=false``) pauses its poller; enabling it again resumes it at
once. Source types register with :func:`register_source`.
"""

from __future__ import annotations

import abc
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from moto.awslambda.models import EventSourceMapping, LambdaBackend
from moto.awslambda.utils import get_backend
from moto.events.models import EventPattern
from moto.utilities.arns import parse_arn

from localcloud.patches.lambda_runtime import InvokeResult, invoke_sync

logger = logging.getLogger("localcloud.esm")

_IDLE_WAIT = 0.5  # seconds a poller sleeps without a wake-up before re-checking it is still wanted

Guard = Callable[[LambdaBackend, str], contextlib.AbstractContextManager[Any]]


@dataclass(frozen=True)
class _Source:
    factory: Callable[[EventSourceMapping], Poller]
    guard: Guard


_ORIGINAL_CREATE = LambdaBackend.create_event_source_mapping
_ORIGINAL_UPDATE = LambdaBackend.update_event_source_mapping
_sources: dict[str, _Source] = {}
_pollers: dict[str, Poller] = {}
_lock = threading.Lock()


class Poller(abc.ABC):
    """Owns one event source mapping; runs until the mapping is deleted, moto is reset, or
    :meth:`stop` is called."""

    def __init__(self, esm: EventSourceMapping) -> None:
        self.esm = esm
        self._stopped = threading.Event()
        self._resumed = threading.Event()  # set when the mapping is enabled again
        self._last_error: str | None = None
        self._thread = threading.Thread(target=self._loop, name=f"esm-{esm.uuid[:8]}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._resumed.set()
        self.wake()

    def resume(self) -> None:
        """The mapping was enabled again: stop pausing now, not at the next idle check."""
        self._resumed.set()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the poller's threads to end (after :meth:`stop`)."""
        self._thread.join(timeout)

    @abc.abstractmethod
    def wake(self) -> None:
        """Interrupt :meth:`wait_for_work` early (e.g. on stop)."""

    def alive(self) -> bool:
        if self._stopped.is_set():
            return False
        backend = get_backend(self.esm.account_id, self.esm.region)
        return backend.get_event_source_mapping(self.esm.uuid) is self.esm

    def _loop(self) -> None:
        try:
            while self.alive():
                if not self.esm.enabled:
                    # wait_for_work would return at once while the source has work: pause instead
                    self._resumed.wait(_IDLE_WAIT)
                    self._resumed.clear()
                    continue
                try:
                    worked = self.poll()
                except Exception as exc:
                    self._report(exc)
                    self.sleep(_IDLE_WAIT)  # the work that made it fail is still there: no retry storm
                    continue
                self._last_error = None
                if not worked:
                    self.wait_for_work(_IDLE_WAIT)
        finally:
            with _lock:
                if _pollers.get(self.esm.uuid) is self:
                    del _pollers[self.esm.uuid]

    def _report(self, exc: Exception) -> None:
        """Log a failed poll once per distinct error (it repeats every idle wait otherwise)."""
        error = f"{type(exc).__name__}: {exc}"
        if error != self._last_error:
            logger.error("event source mapping %s: poll failed (%s)", self.esm.uuid, error, exc_info=exc)
            self._last_error = error

    def sleep(self, seconds: float) -> None:
        """Interruptible sleep (a stopped poller wakes at once)."""
        self._stopped.wait(seconds)

    def invoke(self, event: dict[str, Any]) -> InvokeResult:
        return invoke_sync(self.esm.function_arn, event)

    def reports_item_failures(self) -> bool:
        return "ReportBatchItemFailures" in (self.esm.function_response_types or [])

    def matches_filters(self, record: dict[str, Any]) -> bool:
        """Lambda event filtering: a record passes if any pattern matches (none = all pass).

        moto stores ``FilterCriteria`` but never applies it. The pattern syntax is
        EventBridge's, so moto's EventBridge matcher does the matching.
        """
        filters = (self.esm.filter_criteria or {}).get("Filters") or []
        return not filters or any(EventPattern.load(f["Pattern"]).matches_event(record) for f in filters)

    @abc.abstractmethod
    def poll(self) -> bool:
        """Deliver at most one batch; return whether there was anything to do."""

    @abc.abstractmethod
    def wait_for_work(self, timeout: float) -> None:
        """Block until the source may have new work, or ``timeout`` passes."""

    @abc.abstractmethod
    def pending(self) -> bool:
        """Is anything not yet handled (for ``localcloud.settle``)?"""


def failed_item_ids(payload: Any, batch_ids: list[str]) -> list[str] | None:
    """Item identifiers a partial batch response reports, in batch order.

    ``None`` means the response is malformed, which AWS treats as the whole batch failing;
    an empty list means success. Rules: ``null``/``{}``/``[]``/empty ``batchItemFailures`` are
    success; a missing, empty or unknown ``itemIdentifier`` fails the whole batch.
    """
    if payload in (None, {}, [], ""):
        return []
    if not isinstance(payload, dict):
        return None
    failures = payload.get("batchItemFailures")
    if failures is None:
        return []
    if not isinstance(failures, list):
        return None
    wanted: set[str] = set()
    for failure in failures:
        item = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(item, str) or item not in batch_ids:
            return None
        wanted.add(item)
    return [i for i in batch_ids if i in wanted]


def register_source(service: str, factory: Callable[[EventSourceMapping], Poller], guard: Guard) -> None:
    """Let mappings whose source ARN has service ``service`` ("sqs", "dynamodb") be polled.

    ``guard(lambda_backend, source_arn)`` is held while moto creates the mapping and ``factory``
    detaches it from the source: it must keep the source's writers out meanwhile.
    """
    _sources[service] = _Source(factory, guard)


def active() -> list[Poller]:
    with _lock:
        return list(_pollers.values())


def stop_all(timeout: float = 5.0) -> None:
    """Stop every poller and wait (up to ``timeout`` in all) for their threads to end."""
    pollers = active()
    for poller in pollers:
        poller.stop()
    deadline = time.monotonic() + timeout
    for poller in pollers:
        poller.join(max(0.0, deadline - time.monotonic()))


def _source(spec: dict[str, Any]) -> _Source | None:
    try:
        return _sources.get(parse_arn(str(spec.get("EventSourceArn") or "")).service)
    except ValueError:  # not an ARN: moto reports it
        return None


def _create_event_source_mapping(self: LambdaBackend, spec: dict[str, Any]) -> EventSourceMapping:
    source = _source(spec)
    if source is None:
        return _ORIGINAL_CREATE(self, spec)
    with source.guard(self, spec["EventSourceArn"]):
        esm = _ORIGINAL_CREATE(self, spec)
        poller = source.factory(esm)
    with _lock:
        _pollers[esm.uuid] = poller
    poller.start()
    return esm


def _update_event_source_mapping(self: LambdaBackend, uuid: str, spec: dict[str, Any]) -> EventSourceMapping | None:
    esm = _ORIGINAL_UPDATE(self, uuid, spec)
    with _lock:
        poller = _pollers.get(uuid)
    if poller is not None and esm is not None and esm.enabled:
        poller.resume()
    return esm


def install() -> None:
    LambdaBackend.create_event_source_mapping = _create_event_source_mapping  # type: ignore[method-assign]
    LambdaBackend.update_event_source_mapping = _update_event_source_mapping  # type: ignore[method-assign]
