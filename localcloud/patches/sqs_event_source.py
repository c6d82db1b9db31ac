"""SQS -> Lambda event source mappings polled in the background, as AWS does.

moto 5.2.5 invokes the function inside ``Queue.add_message`` (the sender's ``SendMessage``
call), with ONE record per invocation whatever ``BatchSize`` is; ``ApproximateReceiveCount``
is always "1"; ``ReportBatchItemFailures``, ``FilterCriteria`` and ``MaximumBatchingWindow``
are ignored; a failed message is made visible again at once and re-delivered only by the next
send, so a poison message is never moved to the DLQ unless something else receives the queue.

Here a poller per mapping receives up to ``BatchSize`` messages (waiting up to the batching
window for a fuller batch), drops messages the filters reject (deleted, as AWS does), invokes
the function with the AWS record shape, deletes what succeeded and leaves failed messages
invisible for the queue's visibility timeout (scaled by ``localcloud.timescale``). moto's own
``ReceiveMessage`` then moves a message to the DLQ once it has been received
``maxReceiveCount`` times (RedrivePolicy). Up to five batches run concurrently per mapping
(the number of pollers AWS starts with), or ``ScalingConfig.MaximumConcurrency``.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from typing import Any

from moto.awslambda.models import EventSourceMapping
from moto.core.utils import unix_time_millis
from moto.sqs.models import Message, Queue, sqs_backends

from localcloud import timescale
from localcloud.patches import event_source_pollers
from localcloud.patches.event_source_pollers import Poller

_DEFAULT_CONCURRENCY = 5


def _find_queue(esm: EventSourceMapping) -> Queue:
    backend = sqs_backends[esm.account_id][esm.region]
    return next(q for q in backend.queues.values() if q.queue_arn == esm.event_source_arn)


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

    @property
    def _backend(self) -> Any:
        return sqs_backends[self.esm.account_id][self.esm.region]

    def alive(self) -> bool:
        return super().alive() and self._backend.queues.get(self.queue.name) is self.queue

    def pending(self) -> bool:
        return self.alive() and bool(self.esm.enabled) and bool(self.queue._messages)

    def wait_for_work(self, timeout: float) -> None:
        now = unix_time_millis()
        waits = [m.visible_at for m in list(self.queue._messages) if m.visible_at > now]
        waits += [m.delayed_until for m in list(self.queue._messages) if m.delayed_until > now]
        if waits:
            timeout = min(timeout, max(0.001, (min(waits) - now) / 1000))
        with self.queue._messages_lock:
            if not self.queue.messages:
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

    def poll(self) -> bool:
        if not self._batch_ready():
            if self._window_opened is not None:
                self.sleep(0.005)
                return True
            return False
        if not self._slots.acquire(timeout=0.05):
            return True
        self._window_opened = None
        messages = self._backend.receive_message(
            self.queue.name, self.esm.batch_size, 0, self.queue.visibility_timeout, ["All"]
        )
        if not messages:
            self._slots.release()
            return False
        threading.Thread(target=self._handle, args=(messages,), daemon=True).start()
        return True

    def _handle(self, messages: list[Message]) -> None:
        try:
            records = []
            for message in messages:
                record = _record(self.queue, message)
                if self.matches_filters(_filterable(record)):
                    records.append(record)
                else:
                    self._backend.delete_message(self.queue.name, message.receipt_handle)
            if records:
                self._deliver(records)
        finally:
            self._slots.release()

    def _deliver(self, records: list[dict[str, Any]]) -> None:
        ids = [r["messageId"] for r in records]
        result = self.invoke({"Records": records})
        failed: list[str] | None = ids
        if not result.function_error:
            failed = event_source_pollers.failed_item_ids(result.payload, ids) if self.reports_item_failures() else []
        failed_set = set(ids if failed is None else failed)
        for record in records:
            if record["messageId"] in failed_set:
                self._retry_later(record["receiptHandle"])
            else:
                self._backend.delete_message(self.queue.name, record["receiptHandle"])

    def _retry_later(self, receipt_handle: str) -> None:
        """Leave the message invisible for the (scaled) visibility timeout, as AWS does."""
        delay_ms = timescale.seconds(float(self.queue.visibility_timeout or 30)) * 1000
        for message in list(self.queue._messages):
            if message.had_receipt_handle(receipt_handle):
                message.visible_at = unix_time_millis() + delay_ms
                self.queue.pending_messages.discard(message)
                return


def install() -> None:
    event_source_pollers.install()
    event_source_pollers.register_source("sqs", SqsPoller)
