"""SQS -> Lambda event source mappings polled in the background, as AWS does.

moto 5.2.5 invokes the function inside ``Queue.add_message`` (the sender's ``SendMessage``
call), with ONE record per invocation whatever ``BatchSize`` is; ``ApproximateReceiveCount``
is always "1"; ``ReportBatchItemFailures``, ``FilterCriteria`` and ``MaximumBatchingWindow``
are ignored; a failed message is made visible again at once and re-delivered only by the next
send, so a poison message is never moved to the DLQ unless something else receives the queue.

Here a poller per mapping receives up to ``BatchSize`` messages (waiting up to the batching
window for a fuller batch), drops messages the filters reject (deleted, as AWS does), invokes
the function with the AWS record shape, deletes what succeeded and makes the rest visible again
once the queue's visibility timeout (scaled by ``localcloud.timescale``, counted from the
receive) has passed, also when delivering the batch crashed. moto's own ``ReceiveMessage`` then
moves a message to the DLQ once it has been received ``maxReceiveCount`` times
(RedrivePolicy). Up to five batches run concurrently per mapping (the number of pollers AWS
starts with), or ``ScalingConfig.MaximumConcurrency``.

moto keeps visibility in whole seconds, so a batch is received with the scaled timeout rounded
up, but never shorter than the function's timeout: handlers run in real time, and AWS requires
the visibility timeout to cover the function's timeout (a shorter one would deliver a message
again while its first invocation still runs). The scaled retry delay is then applied by the
poller itself (``ChangeMessageVisibility`` to 0 when it is due). ``Queue.add_message`` runs
under the queue's lock, which creating a mapping holds too (see ``event_source_pollers``).
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import math
import threading
import time
from typing import Any

from moto.awslambda.models import EventSourceMapping, LambdaBackend
from moto.awslambda.utils import get_backend
from moto.core.utils import unix_time_millis
from moto.sqs.exceptions import ReceiptHandleIsInvalid
from moto.sqs.models import Message, Queue, sqs_backends

from localcloud import timescale
from localcloud.patches import event_source_pollers
from localcloud.patches.event_source_pollers import Poller

logger = logging.getLogger("localcloud.esm")

_DEFAULT_CONCURRENCY = 5
_STARVED_WAIT = 0.01  # visible messages but none received (e.g. a FIFO group in flight): re-poll soon
_ORIGINAL_ADD_MESSAGE = Queue.add_message


def _queue_by_arn(account_id: str, region: str, arn: str) -> Queue | None:
    return next((q for q in list(sqs_backends[account_id][region].queues.values()) if q.queue_arn == arn), None)


def _find_queue(esm: EventSourceMapping) -> Queue:
    queue = _queue_by_arn(esm.account_id, esm.region, esm.event_source_arn)
    assert queue is not None, esm.event_source_arn  # moto created the mapping, so the queue exists
    return queue


def _guard(backend: LambdaBackend, source_arn: str) -> contextlib.AbstractContextManager[Any]:
    """The queue's lock: no message is added while moto registers the mapping and it is detached."""
    queue = _queue_by_arn(backend.account_id, backend.region_name, source_arn)
    return queue._messages_lock if queue is not None else contextlib.nullcontext()


def _add_message(self: Queue, message: Message) -> None:
    # moto appends under the lock but runs its mapping loop after releasing it; holding the
    # (re-entrant) lock throughout keeps a mapping that is being created out of that loop.
    with self._messages_lock:
        _ORIGINAL_ADD_MESSAGE(self, message)


def _record(queue: Queue, message: Message) -> dict[str, Any]:
    attributes = {
        "ApproximateReceiveCount": str(message.approximate_receive_count),
        "SentTimestamp": str(message.sent_timestamp),
        "SenderId": message.sender_id,
        "ApproximateFirstReceiveTimestamp": str(message.approximate_first_receive_timestamp),
    }
    if queue.fifo_queue:
        attributes["MessageGroupId"] = str(message.group_id)
        attributes["MessageDeduplicationId"] = str(message.deduplication_id)
        attributes["SequenceNumber"] = str(message.sequence_number)
    message_attributes = {
        name: {
            "stringValue": value.get("StringValue"),
            "binaryValue": _base64(value.get("BinaryValue")),
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": value.get("DataType"),
        }
        for name, value in message.message_attributes.items()
    }
    return {
        "messageId": message.id,
        "receiptHandle": message.receipt_handle,
        "body": message.body,
        "attributes": attributes,
        "messageAttributes": message_attributes,
        "md5OfBody": message.body_md5,
        "eventSource": "aws:sqs",
        "eventSourceARN": queue.queue_arn,
        "awsRegion": queue.region,
    }


def _base64(value: bytes | str | None) -> str | None:
    return base64.b64encode(value).decode() if isinstance(value, bytes) else value


def _filterable(record: dict[str, Any]) -> dict[str, Any]:
    """AWS matches ``body`` patterns against the parsed body when it is a JSON object."""
    try:
        body = json.loads(record["body"])
    except ValueError:
        return record
    return {**record, "body": body} if isinstance(body, dict) else record


class SqsPoller(Poller):
    def __init__(self, esm: EventSourceMapping) -> None:
        super().__init__(esm)
        self.queue = _find_queue(esm)
        self.queue.lambda_event_source_mappings.pop(esm.function_arn, None)  # moto must not deliver
        limit = (esm.scaling_config or {}).get("MaximumConcurrency", _DEFAULT_CONCURRENCY)
        self._slots = threading.BoundedSemaphore(int(limit))
        self._window_opened: float | None = None
        self._starved = False
        self._batches: set[threading.Thread] = set()
        self._releases: list[tuple[float, str]] = []  # (time.monotonic() due, receipt handle)
        self._releases_lock = threading.Lock()

    @property
    def _backend(self) -> Any:
        return sqs_backends[self.esm.account_id][self.esm.region]

    def alive(self) -> bool:
        return super().alive() and self._backend.queues.get(self.queue.name) is self.queue

    def pending(self) -> bool:
        return self.alive() and bool(self.esm.enabled) and bool(self.queue._messages)

    def wake(self) -> None:
        with self.queue._messages_lock:
            self.queue._messages_lock.notify_all()

    def join(self, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (timeout or 0.0)
        super().join(timeout)
        for batch in list(self._batches):  # in-flight batches finish their invocation
            batch.join(None if timeout is None else max(0.0, deadline - time.monotonic()))

    def wait_for_work(self, timeout: float) -> None:
        if self._starved:
            timeout = min(timeout, _STARVED_WAIT)
        with self._releases_lock:
            releases = [due for due, _ in self._releases]
        if releases:
            timeout = min(timeout, max(0.001, min(releases) - time.monotonic()))
        now = unix_time_millis()
        messages = list(self.queue._messages)
        waits = [m.visible_at for m in messages if m.visible_at > now]
        waits += [m.delayed_until for m in messages if m.delayed_until > now]
        if waits:
            timeout = min(timeout, max(0.001, (min(waits) - now) / 1000))
        with self.queue._messages_lock:
            if self._starved or not self.queue.messages:
                self.queue._messages_lock.wait(timeout)

    def _batch_ready(self) -> bool:
        """Honour MaximumBatchingWindowInSeconds: wait for a full batch, at most the window."""
        visible = len(self.queue.messages)
        window = timescale.seconds(float(self.esm.max_batch_window or 0))
        if visible == 0:
            self._window_opened = None
            return False
        if visible >= self.esm.batch_size or window == 0:
            return True
        if self._window_opened is None:
            self._window_opened = time.monotonic()
        return time.monotonic() - self._window_opened >= window

    def _lease(self) -> int:
        """Whole seconds a received batch stays invisible (see the module docstring)."""
        visibility = float(self.queue.visibility_timeout or 30)
        wanted = max(timescale.seconds(visibility), _function_timeout(self.esm))
        return max(1, math.ceil(min(visibility, wanted)))

    def poll(self) -> bool:
        released = self._release_due()
        self._starved = False
        if not self._batch_ready():
            if self._window_opened is not None:
                self.sleep(0.005)
                return True
            return released
        if not self._slots.acquire(timeout=0.05):
            return True
        self._window_opened = None
        received_at = time.monotonic()
        try:
            messages = self._backend.receive_message(self.queue.name, self.esm.batch_size, 0, self._lease(), ["All"])
        except BaseException:
            self._slots.release()
            raise
        if not messages:
            self._slots.release()
            self._starved = True
            return released
        batch = threading.Thread(
            target=self._handle, args=(messages, received_at), name=f"{self._thread.name}-batch", daemon=True
        )
        self._batches = {b for b in self._batches if b.is_alive()} | {batch}
        batch.start()
        return True

    def _handle(self, messages: list[Message], received_at: float) -> None:
        unresolved = {m.receipt_handle for m in messages}  # neither deleted nor filtered out
        try:
            records = []
            for message in messages:
                record = _record(self.queue, message)
                if self.matches_filters(_filterable(record)):
                    records.append(record)
                else:
                    self._delete(message.receipt_handle, unresolved)
            if records:
                self._deliver(records, unresolved)
        except Exception:
            logger.exception(
                "event source mapping %s: delivering a batch of %d message(s) failed; they become visible "
                "again after the visibility timeout",
                self.esm.uuid,
                len(unresolved),
            )
        finally:
            self._release_later(list(unresolved), received_at)
            self._slots.release()

    def _deliver(self, records: list[dict[str, Any]], unresolved: set[str]) -> None:
        """Invoke the function; delete what succeeded (the rest stays in ``unresolved``)."""
        ids = [r["messageId"] for r in records]
        result = self.invoke({"Records": records})
        failed: list[str] | None = ids
        if not result.function_error:
            failed = event_source_pollers.failed_item_ids(result.payload, ids) if self.reports_item_failures() else []
        failed_set = set(ids if failed is None else failed)
        for record in records:
            if record["messageId"] not in failed_set:
                self._delete(record["receiptHandle"], unresolved)

    def _delete(self, receipt_handle: str, unresolved: set[str]) -> None:
        self._backend.delete_message(self.queue.name, receipt_handle)
        unresolved.discard(receipt_handle)

    def _release_later(self, receipt_handles: list[str], received_at: float) -> None:
        """Make messages visible again once the (scaled) visibility timeout, counted from the
        receive as on AWS, has passed."""
        if not receipt_handles:
            return
        due = received_at + timescale.seconds(float(self.queue.visibility_timeout or 30))
        with self._releases_lock:
            self._releases.extend((due, handle) for handle in receipt_handles)
        self.wake()

    def _release_due(self) -> bool:
        now = time.monotonic()
        with self._releases_lock:
            due = [handle for when, handle in self._releases if when <= now]
            self._releases = [(when, handle) for when, handle in self._releases if when > now]
        for handle in due:
            with contextlib.suppress(ReceiptHandleIsInvalid):  # deleted or moved meanwhile
                self._backend.change_message_visibility(self.queue.name, handle, 0)
        return bool(due)


def _function_timeout(esm: EventSourceMapping) -> float:
    """The mapped function's timeout in seconds (3, Lambda's default, if it cannot be found)."""
    try:
        return float(get_backend(esm.account_id, esm.region).get_function(esm.function_arn).timeout or 3)
    except Exception:
        return 3.0


def install() -> None:
    Queue.add_message = _add_message  # type: ignore[method-assign]
    event_source_pollers.install()
    event_source_pollers.register_source("sqs", SqsPoller, _guard)
