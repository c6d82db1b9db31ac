"""DynamoDB Streams -> Lambda delivered after the write, in order, with AWS's error handling.

moto 5.2.5 invokes the function inside ``StreamShard.add``, i.e. inside the writer's
``PutItem``/``UpdateItem`` call, and with *every* record the shard holds; after a successful
delivery it empties the shard (``GetRecords`` then sees nothing). A handler that writes to its
own table therefore re-enters delivery from inside its own write (duplicates, or an endless
loop), a failing handler loses the records, and ``BatchSize``, ``FilterCriteria``,
``ReportBatchItemFailures``, ``BisectBatchOnFunctionError``, ``MaximumRetryAttempts`` and
``DestinationConfig.OnFailure`` are ignored.

Here one poller per mapping keeps its own cursor into the shard (records stay in the shard for
``GetRecords``) and delivers from a background thread, one batch at a time, in sequence order:
filters drop non-matching records before batching; a batch of up to ``BatchSize`` is invoked;
a function error is retried (bisecting the batch first if configured); a partial batch
response retries from the first failed sequence number; when ``MaximumRetryAttempts`` is
exhausted the AWS failure record is sent to the on-failure destination (SQS or SNS) and the
shard moves on. ``MaximumRecordAgeInSeconds`` and ``ParallelizationFactor`` are not modelled.
A cancelled ``TransactWriteItems`` makes moto swap in a copy of the table; the poller follows it
(same creation time) instead of taking the table for deleted.

The DynamoDB Streams API (``GetShardIterator``/``GetRecords``, which ``oms redrive`` uses to read a
failure record's batch back) answers as AWS does where moto fails with an assertion (HTTP 500): a
shard or stream that no longer exists is ``ResourceNotFoundException``, a sequence number before
the shard's first record ``TrimmedDataAccessException``, an unknown iterator
``ExpiredIteratorException``; records carry the stream's region (moto says us-east-1). Records are
never trimmed by age (nothing here lives for the 24 h retention).
"""

from __future__ import annotations

import contextlib
import datetime
import json
import threading
import uuid
from typing import Any

from moto.awslambda.models import EventSourceMapping, LambdaBackend
from moto.core.exceptions import JsonRESTError
from moto.core.utils import unix_time
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.table import StreamRecord, StreamShard, Table
from moto.dynamodbstreams.models import DynamoDBStreamsBackend, ShardIterator

from localcloud import timescale
from localcloud.destinations import deliver
from localcloud.patches import event_source_pollers
from localcloud.patches.dynamodb_linearizable import LOCK
from localcloud.patches.event_source_pollers import Poller
from localcloud.patches.lambda_runtime import InvokeResult

_ORIGINAL_ADD = StreamShard.add
_ORIGINAL_GET_SHARD_ITERATOR = DynamoDBStreamsBackend.get_shard_iterator
_ORIGINAL_GET_RECORDS = DynamoDBStreamsBackend.get_records
_CHANGED = threading.Condition()  # notified whenever any shard gets a record


def _add(self: StreamShard, old: Any, new: Any) -> None:
    _ORIGINAL_ADD(self, old, new)
    with _CHANGED:
        _CHANGED.notify_all()


def _guard(backend: LambdaBackend, source_arn: str) -> contextlib.AbstractContextManager[Any]:
    """Every DynamoDB write holds LOCK: none lands while moto registers the mapping on the table
    (where its own delivery would run inside the write) and the poller detaches it."""
    return LOCK


def _find_table(esm: EventSourceMapping) -> Table:
    backend = dynamodb_backends[esm.account_id][esm.region]
    table_arn = esm.event_source_arn.split("/stream/")[0]
    return next(t for t in backend.tables.values() if t.table_arn == table_arn)


def _iso(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class StreamPoller(Poller):
    def __init__(self, esm: EventSourceMapping) -> None:
        super().__init__(esm)
        self.table = _find_table(esm)
        self.table.lambda_event_source_mappings.pop(esm.function_arn, None)  # moto must not deliver
        self.shard = self.table.stream_shard
        start_at_end = esm.starting_position == "LATEST"
        self.cursor = len(self.shard.items) if (self.shard and start_at_end) else 0

    def _current_table(self) -> Table | None:
        """The mapped table as moto holds it now, or None once it was deleted (or re-created).

        A cancelled ``TransactWriteItems`` puts back a deep copy of the table taken before the
        transaction (stream shard included): that copy, with the same creation time, is still
        this table and its stream."""
        table = dynamodb_backends[self.esm.account_id][self.esm.region].tables.get(self.table.name)
        return table if table is not None and table.created_at == self.table.created_at else None

    def _same_stream(self, shard: StreamShard) -> bool:
        # moto gives every shard the same id; a re-enabled stream's shard is a new one
        return self.shard is not None and shard.created_on == self.shard.created_on

    def alive(self) -> bool:
        return super().alive() and self._current_table() is not None

    def _has_unread(self) -> bool:
        table = self._current_table()
        shard = table.stream_shard if table is not None else None
        if shard is None:
            return False
        return len(shard.items) > self.cursor if self._same_stream(shard) else bool(shard.items)

    def _unread(self) -> list[StreamRecord]:
        with LOCK:  # a record is delivered only once the write that made it has completed
            table = self._current_table()
            shard = table.stream_shard if table is not None else None
            if shard is not None and not self._same_stream(shard):
                self.cursor = 0
            self.shard = shard
            return shard.items[self.cursor :] if shard is not None else []

    def pending(self) -> bool:
        return self.alive() and bool(self.esm.enabled) and self._has_unread()

    def wake(self) -> None:
        with _CHANGED:
            _CHANGED.notify_all()

    def wait_for_work(self, timeout: float) -> None:
        # Never take LOCK here: writers notify _CHANGED while holding it.
        with _CHANGED:
            if not self._has_unread():
                _CHANGED.wait(timeout)

    def poll(self) -> bool:
        unread = self._unread()
        if not unread:
            return False
        batch: list[dict[str, Any]] = []
        consumed = 0
        for item in unread:
            if len(batch) >= self.esm.batch_size:
                break
            consumed += 1
            record = self._record(item)
            if self.matches_filters(record):
                batch.append(record)
        if batch:
            self._deliver(batch, attempts=0)
        self.cursor += consumed
        return True

    def _record(self, item: StreamRecord) -> dict[str, Any]:
        raw = item.to_json()
        dynamodb = dict(raw["dynamodb"])
        created = dynamodb.get("ApproximateCreationDateTime")
        if isinstance(created, datetime.datetime):
            dynamodb["ApproximateCreationDateTime"] = unix_time(created)
        return {
            "eventID": raw["eventID"],
            "eventName": raw["eventName"],
            "eventVersion": raw["eventVersion"],
            "eventSource": "aws:dynamodb",
            "awsRegion": self.esm.region,
            "dynamodb": dynamodb,
            "eventSourceARN": self.esm.event_source_arn,
        }

    def _deliver(self, records: list[dict[str, Any]], attempts: int) -> None:
        """Invoke until the batch succeeded or went to the on-failure destination."""
        while records and not self._stopped.is_set():
            result = self.invoke({"Records": records})
            failed_from = self._first_failure(result, records)
            if failed_from is None:
                return
            attempts += 1
            if result.function_error and self.esm.bisect_on_error and len(records) > 1:
                half = len(records) // 2
                self._deliver(records[:half], attempts)
                self._deliver(records[half:], attempts)
                return
            records = records[failed_from:]
            limit = self.esm.max_retry_attempts
            if limit is not None and int(limit) >= 0 and attempts > int(limit):
                self._send_to_on_failure(records, attempts, result.function_error)
                return
            self.sleep(timescale.seconds(min(2.0**attempts, 60.0)))

    def _first_failure(self, result: InvokeResult, records: list[dict[str, Any]]) -> int | None:
        """Index to retry from, or None when the whole batch succeeded."""
        if result.function_error:
            return 0
        if not self.reports_item_failures():
            return None
        sequence_numbers = [r["dynamodb"]["SequenceNumber"] for r in records]
        failed = event_source_pollers.failed_item_ids(result.payload, sequence_numbers)
        if failed is None:
            return 0
        return sequence_numbers.index(failed[0]) if failed else None

    def _send_to_on_failure(self, records: list[dict[str, Any]], attempts: int, function_error: bool) -> None:
        destination = ((self.esm.destination_config or {}).get("OnFailure") or {}).get("Destination")
        if not destination:
            return  # AWS discards the records
        first, last = records[0]["dynamodb"], records[-1]["dynamodb"]
        response: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
        if function_error:
            response["functionError"] = "Unhandled"
        failure = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": self.esm.function_arn,
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": attempts,
            },
            "responseContext": response,
            "version": "1.0",
            "timestamp": _iso(datetime.datetime.now(datetime.UTC)),
            "DDBStreamBatchInfo": {
                "shardId": self.shard.id,
                "startSequenceNumber": first["SequenceNumber"],
                "endSequenceNumber": last["SequenceNumber"],
                "approximateArrivalOfFirstRecord": _iso(_utc(first["ApproximateCreationDateTime"])),
                "approximateArrivalOfLastRecord": _iso(_utc(last["ApproximateCreationDateTime"])),
                "batchSize": len(records),
                "streamArn": self.esm.event_source_arn,
            },
        }
        deliver(destination, json.dumps(failure))


def _utc(epoch: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC)


def _get_shard_iterator(self: DynamoDBStreamsBackend, arn: str, shard_id: str, shard_iterator_type: str,
                        sequence_number: str | None = None) -> ShardIterator:
    table = next((t for t in self.dynamodb.tables.values() if t.stream_shard is not None
                  and f"{t.table_arn}/stream/{t.latest_stream_label}" == arn), None)
    if table is None or table.stream_shard is None:
        raise JsonRESTError("ResourceNotFoundException", f"Requested resource not found: Stream: {arn} not found")
    shard = table.stream_shard
    if shard.id != shard_id:
        raise JsonRESTError("ResourceNotFoundException",
                            f"Requested resource not found: Shard: {shard_id} in Stream: {arn} not found")
    if shard_iterator_type in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"):
        if sequence_number is None:
            raise JsonRESTError("ValidationException", f"SequenceNumber is required for {shard_iterator_type}")
        if int(sequence_number) < shard.starting_sequence_number:
            raise JsonRESTError("TrimmedDataAccessException",
                                f"The operation attempted to read past the oldest stream record in shard {shard_id}")
    return _ORIGINAL_GET_SHARD_ITERATOR(self, arn, shard_id, shard_iterator_type, sequence_number)


def _get_records(self: DynamoDBStreamsBackend, iterator_arn: str, limit: int) -> dict[str, Any]:
    if iterator_arn not in self.shard_iterators:
        raise JsonRESTError("ExpiredIteratorException", "Iterator expired or unknown")
    result = _ORIGINAL_GET_RECORDS(self, iterator_arn, limit)
    # moto hands out its own record dicts: copy before giving them the stream's region
    result["Records"] = [{**record, "awsRegion": self.region_name} for record in result["Records"]]
    return result


def install() -> None:
    StreamShard.add = _add  # type: ignore[method-assign]
    DynamoDBStreamsBackend.get_shard_iterator = _get_shard_iterator  # type: ignore[method-assign]
    DynamoDBStreamsBackend.get_records = _get_records  # type: ignore[method-assign]
    event_source_pollers.install()
    event_source_pollers.register_source("dynamodb", StreamPoller, _guard)
