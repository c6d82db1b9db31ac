"""Replay a table-stream consumer's dead letters: each is a pointer, not the records.

When a stream consumer's event source mapping gives up on a batch it sends the Lambda failure
record to its on-failure queue: ``DDBStreamBatchInfo`` names the stream, the shard, the first and
last sequence number and the batch size. While the stream keeps the records (24 hours) they are
read back by shard and sequence number (``GetShardIterator AT_SEQUENCE_NUMBER``, then
``GetRecords`` until the last one), filtered by the mapping's own filter criteria (the batch held
only the records that passed them), and the consumer is invoked with a stream event of exactly
those records, shaped as its mapping delivers them. The pointer is deleted only when that
invocation succeeded: a function error or any reported batch item failure keeps it. Pointers
past the retention, or whose shard or records are gone, are listed and kept: the reconciler
repairs what they pointed at (docs/OPERATIONS.md). Consumers are idempotent, so replaying a
batch that partly succeeded before changes nothing it already did.
"""

from __future__ import annotations

import base64
import datetime
import json
from dataclasses import dataclass, field
from typing import Any

RETENTION = datetime.timedelta(hours=24)  # DynamoDB Streams keeps a record for 24 hours
VISIBILITY = 300  # seconds a pointer stays hidden while its batch is read and replayed
GONE = ("TrimmedDataAccessException", "ResourceNotFoundException", "ExpiredIteratorException")
MAX_EMPTY_READS = 20  # an open shard may answer empty pages before the records behind the iterator
BATCH = 10
#: A replay waits for the consumer as long as Lambda may run it (900 s at most), and is never
#: retried by the client: a second invoke of a batch still running would only run it twice.
INVOKE_READ_TIMEOUT_S = 905


class PointerExpired(Exception):
    """The records a pointer names are past the stream's retention or gone with their shard."""


class ReplayFailed(Exception):
    """The records were read but the consumer did not process them all."""


@dataclass(frozen=True)
class StreamConsumer:
    """A function fed by a table stream, as its event source mapping configures it."""

    function_arn: str
    stream_arn: str
    filters: tuple[dict[str, Any], ...] = ()
    reports_item_failures: bool = False

    @property
    def function_name(self) -> str:
        return self.function_arn.rsplit(":", 1)[-1]

    def matches(self, record: dict[str, Any]) -> bool:
        """Lambda event filtering: no filter, or any pattern matches."""
        return not self.filters or any(_matches(pattern, record) for pattern in self.filters)


def stream_consumers(lambda_client: Any) -> dict[str, StreamConsumer]:
    """Each stream consumer by the ARN of its on-failure queue."""
    found: dict[str, StreamConsumer] = {}
    for page in lambda_client.get_paginator("list_event_source_mappings").paginate():
        for mapping in page.get("EventSourceMappings", []):
            source = str(mapping.get("EventSourceArn") or "")
            destination = ((mapping.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
            if ":dynamodb:" not in source or "/stream/" not in source or not destination:
                continue
            criteria = (mapping.get("FilterCriteria") or {}).get("Filters") or []
            filters = tuple(json.loads(f["Pattern"]) for f in criteria)
            found[destination] = StreamConsumer(
                function_arn=mapping["FunctionArn"], stream_arn=source, filters=filters,
                reports_item_failures="ReportBatchItemFailures" in (mapping.get("FunctionResponseTypes") or []))
    return found


@dataclass(frozen=True)
class StreamPointer:
    """The ``DDBStreamBatchInfo`` of a Lambda failure record."""

    stream_arn: str
    shard_id: str
    start: str
    end: str
    batch_size: int
    first_arrival: datetime.datetime | None
    condition: str = ""

    @classmethod
    def parse(cls, body: str) -> StreamPointer | None:
        try:
            record = json.loads(body)
            info = record["DDBStreamBatchInfo"]
            return cls(stream_arn=str(info["streamArn"]), shard_id=str(info["shardId"]),
                       start=str(info["startSequenceNumber"]), end=str(info["endSequenceNumber"]),
                       batch_size=int(info.get("batchSize", 0)),
                       first_arrival=_instant(info.get("approximateArrivalOfFirstRecord")),
                       condition=str((record.get("requestContext") or {}).get("condition", "")))
        except (ValueError, KeyError, TypeError, AttributeError):
            return None

    @property
    def table(self) -> str:
        return self.stream_arn.split(":table/", 1)[-1].split("/stream/", 1)[0]

    def describe(self) -> str:
        first = self.first_arrival.strftime("%Y-%m-%d %H:%M:%SZ") if self.first_arrival else "unknown"
        return (f"{self.batch_size} records of table {self.table}, shard {self.shard_id}, "
                f"sequence numbers {self.start}..{self.end}, first written {first}")

    def past_retention(self, now: datetime.datetime) -> bool:
        return self.first_arrival is not None and now - self.first_arrival >= RETENTION


def _instant(value: Any) -> datetime.datetime | None:
    if not value:
        return None
    moment = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


def read_batch(streams: Any, pointer: StreamPointer, consumer: StreamConsumer) -> list[dict[str, Any]]:
    """The records of ``pointer``'s batch as the mapping delivered them (in sequence order)."""
    from botocore.exceptions import ClientError, ParamValidationError

    try:
        start, end = int(pointer.start), int(pointer.end)
    except ValueError as e:
        raise ValueError(f"its sequence numbers are not numbers ({e})") from e
    records: list[dict[str, Any]] = []
    try:
        iterator = streams.get_shard_iterator(StreamArn=pointer.stream_arn, ShardId=pointer.shard_id,
                                              ShardIteratorType="AT_SEQUENCE_NUMBER",
                                              SequenceNumber=pointer.start)["ShardIterator"]
        empty, last = 0, start - 1
        while iterator and last < end:
            page = streams.get_records(ShardIterator=iterator, Limit=1000)
            iterator = page.get("NextShardIterator")
            empty = 0 if page["Records"] else empty + 1
            for raw in page["Records"]:
                last = int(raw["dynamodb"]["SequenceNumber"])
                if start <= last <= end:
                    record = lambda_record(raw, pointer.stream_arn)
                    if consumer.matches(record):
                        records.append(record)
            if empty >= MAX_EMPTY_READS:
                break
    except ParamValidationError as e:
        raise ValueError(f"the stream refuses its shard or sequence numbers ({e})") from e
    except ClientError as e:
        code = e.response.get("Error", {}).get("Code", "")
        if code in GONE:
            raise PointerExpired(f"the stream no longer has them ({code})") from e
        raise
    if last < end:
        raise PointerExpired(f"the shard ends before sequence number {pointer.end} (read up to {last})")
    return records


def lambda_record(raw: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A ``GetRecords`` record as Lambda's event source mapping puts it in an event: epoch
    seconds for the creation time, binary values base64, and the stream's ARN."""
    dynamodb = {k: _wire(v) for k, v in raw["dynamodb"].items()}
    created = raw["dynamodb"].get("ApproximateCreationDateTime")
    if isinstance(created, datetime.datetime):
        dynamodb["ApproximateCreationDateTime"] = created.timestamp()
    fields = ("eventID", "eventName", "eventVersion", "eventSource", "awsRegion")
    record: dict[str, Any] = {k: raw[k] for k in fields if k in raw}
    record["dynamodb"] = dynamodb
    record["eventSourceARN"] = stream_arn
    if "userIdentity" in raw:
        record["userIdentity"] = raw["userIdentity"]
    return record


def _wire(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {k: _wire(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_wire(v) for v in value]
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    return value


def invoke_client() -> Any:
    """A Lambda client for replays (the environment's endpoint and credentials, the timeouts above)."""
    import boto3
    from botocore.config import Config

    return boto3.client("lambda", config=Config(read_timeout=INVOKE_READ_TIMEOUT_S, connect_timeout=5,
                                                retries={"mode": "standard", "total_max_attempts": 1}))


def replay(lambda_client: Any, consumer: StreamConsumer, records: list[dict[str, Any]]) -> None:
    """Invoke the consumer with ``records`` as one stream event; raise unless all succeeded."""
    reply = lambda_client.invoke(FunctionName=consumer.function_arn, InvocationType="RequestResponse",
                                 Payload=json.dumps({"Records": records}).encode())
    payload = reply["Payload"].read()
    if reply.get("FunctionError"):
        raise ReplayFailed(f"{consumer.function_name} failed: {_error_message(payload)}")
    try:
        answer = json.loads(payload or b"null")
    except ValueError:
        return
    failures = answer.get("batchItemFailures") if isinstance(answer, dict) else None
    if failures:
        ids = ", ".join(str(f.get("itemIdentifier")) if isinstance(f, dict) else "?" for f in failures)
        raise ReplayFailed(f"{consumer.function_name} reported records {ids} as failed")


def _error_message(payload: bytes) -> str:
    try:
        error = json.loads(payload)
        return f"{error.get('errorType', 'Error')}: {error.get('errorMessage', '')}"
    except (ValueError, AttributeError):
        return payload.decode(errors="replace")[:200]


@dataclass(frozen=True)
class Kept:
    pointer: StreamPointer | None
    reason: str
    for_reconciler: bool  # past retention or gone: the reconciler's, not a later redrive's


@dataclass
class StreamRedrive:
    replayed_batches: int = 0
    replayed_records: int = 0
    kept: list[Kept] = field(default_factory=list)


def redrive_stream_pointers(sqs: Any, streams: Any, lambda_client: Any, dlq_url: str, consumer: StreamConsumer,
                            now: datetime.datetime | None = None) -> StreamRedrive:
    """Replay every pointer of ``dlq_url`` to ``consumer``; the kept ones are visible again after."""
    now = now or datetime.datetime.now(datetime.UTC)
    result = StreamRedrive()
    kept_handles: list[str] = []
    seen: set[str] = set()  # a slow replay may outlast the visibility timeout: never handle one twice
    while True:
        messages = [m for m in sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=BATCH, WaitTimeSeconds=0,
                                                   VisibilityTimeout=VISIBILITY).get("Messages", [])
                    if m["MessageId"] not in seen]
        if not messages:
            break
        for message in messages:
            seen.add(message["MessageId"])
            kept = _redrive_one(streams, lambda_client, consumer, message["Body"], now, result)
            if kept is None:
                sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
            else:
                result.kept.append(kept)
                kept_handles.append(message["ReceiptHandle"])
    for i in range(0, len(kept_handles), BATCH):  # visible again at once, for the reconciler or the next redrive
        sqs.change_message_visibility_batch(QueueUrl=dlq_url, Entries=[
            {"Id": str(n), "ReceiptHandle": h, "VisibilityTimeout": 0}
            for n, h in enumerate(kept_handles[i:i + BATCH])])
    return result


def _redrive_one(streams: Any, lambda_client: Any, consumer: StreamConsumer, body: str, now: datetime.datetime,
                 result: StreamRedrive) -> Kept | None:
    pointer = StreamPointer.parse(body)
    if pointer is None:
        return Kept(None, f"not a stream failure record: {body[:120]}", for_reconciler=False)
    if pointer.past_retention(now):
        return Kept(pointer, "older than the stream's 24 h retention", for_reconciler=True)
    try:
        records = read_batch(streams, pointer, consumer)
    except PointerExpired as e:
        return Kept(pointer, str(e), for_reconciler=True)
    except ValueError as e:
        return Kept(pointer, f"unreadable pointer: {e}", for_reconciler=False)
    if not records:
        return Kept(pointer, f"no record in that range passes {consumer.function_name}'s filters",
                    for_reconciler=False)
    try:
        replay(lambda_client, consumer, records)
    except ReplayFailed as e:
        return Kept(pointer, f"replay failed: {e}", for_reconciler=False)
    result.replayed_batches += 1
    result.replayed_records += len(records)
    return None


# --- Lambda event filtering (the EventBridge pattern syntax the mappings use) ------------------

def _matches(pattern: Any, event: Any) -> bool:
    if not isinstance(pattern, dict):
        return False
    for key, wanted in pattern.items():
        present = isinstance(event, dict) and key in event
        value = event.get(key) if isinstance(event, dict) else None
        if isinstance(wanted, dict):
            if not _matches(wanted, value if present else {}):  # an absent object: only "exists": false holds
                return False
        elif isinstance(wanted, list):
            if not any(_rule(rule, present, value) for rule in wanted):
                return False
        else:
            return False
    return True


def _rule(rule: Any, present: bool, value: Any) -> bool:
    values = value if isinstance(value, list) else [value]
    if not isinstance(rule, dict):
        return present and rule in values
    (operator, operand), = rule.items()
    if operator == "exists":
        return present is bool(operand)
    if not present:
        return False
    if operator == "prefix":
        return any(isinstance(v, str) and v.startswith(str(operand)) for v in values)
    if operator == "suffix":
        return any(isinstance(v, str) and v.endswith(str(operand)) for v in values)
    if operator == "equals-ignore-case":
        return any(isinstance(v, str) and v.lower() == str(operand).lower() for v in values)
    if operator == "anything-but":
        if isinstance(operand, dict):
            return not any(_rule(operand, present, v) for v in values)
        refused = operand if isinstance(operand, list) else [operand]
        return not any(v in refused for v in values)
    return True  # an operator this reader does not know: let it through, the consumer checks again
