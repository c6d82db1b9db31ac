"""Background pollers for Lambda event source mappings (shared by the SQS and stream patches).

moto 5.2.5 delivers SQS messages and DynamoDB stream records to Lambda *inside the sender's
call* (``Queue.add_message`` / ``StreamShard.add``). On AWS a separate poller fleet reads the
source after the write returned. Here each mapping gets one background thread that owns it:
creating a mapping starts its poller and detaches the mapping from the moto source object, so
moto's synchronous delivery never runs; deleting the mapping (or resetting moto) ends it.
Source types register a factory with :func:`register_source`.
"""

from __future__ import annotations

import abc
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from moto.awslambda.models import EventSourceMapping, LambdaBackend
from moto.awslambda.utils import get_backend
from moto.events.models import EventPattern

logger = logging.getLogger("localcloud.esm")

_IDLE_WAIT = 0.5  # seconds a poller sleeps without a wake-up before re-checking it is still wanted

_ORIGINAL_CREATE = LambdaBackend.create_event_source_mapping
_factories: dict[str, Callable[[EventSourceMapping], Poller]] = {}
_pollers: dict[str, Poller] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class InvokeResult:
    """What a poller needs from one synchronous invocation."""

    payload: Any
    function_error: bool


class Poller(abc.ABC):
    """Owns one event source mapping; runs until the mapping is deleted or moto is reset."""

    def __init__(self, esm: EventSourceMapping) -> None:
        self.esm = esm
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"esm-{esm.uuid[:8]}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()

    def alive(self) -> bool:
        if self._stopped.is_set():
            return False
        backend = get_backend(self.esm.account_id, self.esm.region)
        return backend.get_event_source_mapping(self.esm.uuid) is self.esm

    def _loop(self) -> None:
        try:
            while self.alive():
                try:
                    worked = self.esm.enabled and self.poll()
                except Exception:
                    logger.exception("event source mapping %s: poll failed", self.esm.uuid)
                    worked = False
                if not worked:
                    self.wait_for_work(_IDLE_WAIT)
        finally:
            with _lock:
                if _pollers.get(self.esm.uuid) is self:
                    del _pollers[self.esm.uuid]

    def sleep(self, seconds: float) -> None:
        """Interruptible sleep (a stopped poller wakes at once)."""
        self._stopped.wait(seconds)

    def invoke(self, event: dict[str, Any]) -> InvokeResult:
        headers: dict[str, str] = {}
        raw = get_backend(self.esm.account_id, self.esm.region).invoke(
            self.esm.function_arn, None, json.dumps(event), {}, headers
        )
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = raw
        return InvokeResult(payload, "x-amz-function-error" in headers)

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


def register_source(service: str, factory: Callable[[EventSourceMapping], Poller]) -> None:
    """Let mappings whose source ARN has service ``service`` ("sqs", "dynamodb") be polled."""
    _factories[service] = factory


def active() -> list[Poller]:
    with _lock:
        return list(_pollers.values())


def _create_event_source_mapping(self: LambdaBackend, spec: dict[str, Any]) -> EventSourceMapping:
    esm = _ORIGINAL_CREATE(self, spec)
    factory = _factories.get(esm.event_source_arn.split(":")[2])
    if factory is not None:
        poller = factory(esm)
        with _lock:
            _pollers[esm.uuid] = poller
        poller.start()
    return esm


def install() -> None:
    LambdaBackend.create_event_source_mapping = _create_event_source_mapping  # type: ignore[method-assign]


def uninstall() -> None:
    LambdaBackend.create_event_source_mapping = _ORIGINAL_CREATE  # type: ignore[method-assign]
    with _lock:
        pollers = list(_pollers.values())
        _pollers.clear()
    for poller in pollers:
        poller.stop()
