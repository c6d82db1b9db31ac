"""A stream consumer's dead letter (a pointer) read back from the stream and replayed
(oms.streams on the local cloud's DynamoDB Streams API and its on-failure records)."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest

import localcloud
from oms.streams import StreamPointer, redrive_stream_pointers, stream_consumers
from tests.localcloud.lambdas import probe
from tests.localcloud.support import client, create_function, create_queue, create_table, drain_queue

pytestmark = pytest.mark.timeout(60)

ORDERS_ONLY = {"dynamodb": {"NewImage": {"SK": {"S": ["ORDER"]}}}}


def _put(pk: str, sk: str = "ORDER") -> None:
    client("dynamodb").put_item(TableName="orders", Item={"PK": {"S": pk}, "SK": {"S": sk}})


def _keys(event: dict[str, Any]) -> list[str]:
    return [r["dynamodb"]["Keys"]["PK"]["S"] for r in event["Records"]]


def _consumer_with_a_dlq(fail: set[str], partial: bool = False) -> tuple[str, str]:
    stream = create_table("orders")
    dlq_url, dlq_arn = create_queue("orders-stream-dlq")
    create_function("consumer")

    def behave(event: Any, context: Any) -> Any:
        bad = [r["dynamodb"]["SequenceNumber"] for r in event["Records"] if r["dynamodb"]["Keys"]["PK"]["S"] in fail]
        if bad and partial:
            return {"batchItemFailures": [{"itemIdentifier": bad[0]}]}
        if bad:
            raise RuntimeError("cannot process")
        return {"batchItemFailures": []}

    probe.BEHAVIOURS["consumer"] = behave
    client("lambda").create_event_source_mapping(
        EventSourceArn=stream, FunctionName="consumer", StartingPosition="TRIM_HORIZON", BatchSize=10,
        MaximumRetryAttempts=1, FunctionResponseTypes=["ReportBatchItemFailures"],
        DestinationConfig={"OnFailure": {"Destination": dlq_arn}},
        FilterCriteria={"Filters": [{"Pattern": json.dumps(ORDERS_ONLY)}]},
    )
    return dlq_url, dlq_arn


def _redrive(dlq_url: str, dlq_arn: str, now: datetime.datetime | None = None) -> Any:
    consumer = stream_consumers(client("lambda"))[dlq_arn]
    return redrive_stream_pointers(client("sqs"), client("dynamodbstreams"), client("lambda"), dlq_url, consumer,
                                   now=now)


def _timeless(event: dict[str, Any]) -> list[dict[str, Any]]:
    return [{**r, "dynamodb": {k: v for k, v in r["dynamodb"].items() if k != "ApproximateCreationDateTime"}}
            for r in event["Records"]]


def _depth(url: str) -> int:
    attributes = client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def test_a_dead_lettered_batch_is_replayed_as_the_mapping_delivered_it_and_its_pointer_deleted(aws: None) -> None:
    # Given a consumer that failed on a batch (an order, a filtered-out event item between, another order)
    dlq_url, dlq_arn = _consumer_with_a_dlq(fail={"ORDER#1"})
    mapping = client("lambda").list_event_source_mappings(FunctionName="consumer")["EventSourceMappings"][0]
    client("lambda").update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
    _put("ORDER#1")
    _put("ORDER#1", sk="EVENT#1")
    _put("ORDER#2")
    client("lambda").update_event_source_mapping(UUID=mapping["UUID"], Enabled=True)
    localcloud.settle()
    delivered = probe.calls("consumer")
    assert [_keys(e) for e in delivered] == [["ORDER#1", "ORDER#2"]] * 2
    assert _depth(dlq_url) == 1
    # When the fault is gone and the operator redrives the queue
    probe.BEHAVIOURS.pop("consumer")
    result = _redrive(dlq_url, dlq_arn)
    # Then the consumer got one event with exactly the records of the failed batch, in the shape
    # its mapping delivered them (the filtered-out item stays out), and the pointer is gone
    assert (result.replayed_batches, result.replayed_records, result.kept) == (1, 2, [])
    replayed = probe.calls("consumer")[-1]
    assert _timeless(replayed) == _timeless(delivered[0])
    for again, first in zip(replayed["Records"], delivered[0]["Records"], strict=True):  # the wire keeps ms
        assert again["dynamodb"]["ApproximateCreationDateTime"] == pytest.approx(
            first["dynamodb"]["ApproximateCreationDateTime"], abs=0.001)
    assert _depth(dlq_url) == 0


def test_a_replay_that_fails_again_keeps_the_pointer(aws: None) -> None:
    # Given a pointer whose records still fail, reported as a partial batch failure
    dlq_url, dlq_arn = _consumer_with_a_dlq(fail={"ORDER#bad"}, partial=True)
    _put("ORDER#bad")
    localcloud.settle()
    assert _depth(dlq_url) == 1
    # When the operator redrives
    result = _redrive(dlq_url, dlq_arn)
    # Then nothing was replayed, the reason names the failed record, and the pointer is visible again
    assert result.replayed_batches == 0
    (kept,) = result.kept
    assert "reported records" in kept.reason and not kept.for_reconciler
    assert _depth(dlq_url) == 1


def test_pointers_the_stream_no_longer_holds_are_kept_for_the_reconciler(aws: None) -> None:
    # Given copies of a real pointer: aged past 24 h, at a shard that is gone, and before the shard's start
    dlq_url, dlq_arn = _consumer_with_a_dlq(fail={"ORDER#1"})
    _put("ORDER#1")
    localcloud.settle()
    (message,) = drain_queue(dlq_url)
    client("sqs").delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
    failure = json.loads(message["Body"])
    info = failure["DDBStreamBatchInfo"]
    gone_shard = {**info, "shardId": "shardId-00000000000000000000-gone"}
    trimmed = {**info, "startSequenceNumber": "100000000000000000001", "endSequenceNumber": "100000000000000000002"}
    day_old = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=25)).isoformat()
    aged = {**info, "approximateArrivalOfFirstRecord": day_old}
    for variant in (gone_shard, trimmed, aged):
        client("sqs").send_message(QueueUrl=dlq_url, MessageBody=json.dumps({**failure, "DDBStreamBatchInfo": variant}))
    # When the operator redrives
    result = _redrive(dlq_url, dlq_arn)
    # Then nothing was replayed; each pointer is listed with what it pointed at and why, and all stay queued
    assert result.replayed_batches == 0 and len(probe.calls("consumer")) == 2
    reasons = sorted(k.reason for k in result.kept)
    assert all(k.for_reconciler for k in result.kept) and len(reasons) == 3
    assert any("24 h retention" in r for r in reasons)
    assert any("ResourceNotFoundException" in r for r in reasons)
    assert any("TrimmedDataAccessException" in r for r in reasons)
    assert all(k.pointer and "table orders" in k.pointer.describe() for k in result.kept)
    assert _depth(dlq_url) == 3


def test_a_pointer_parses_the_aws_failure_record() -> None:
    body = json.dumps({"requestContext": {"condition": "RetryAttemptsExhausted"}, "DDBStreamBatchInfo": {
        "shardId": "shardId-1", "startSequenceNumber": "10", "endSequenceNumber": "12", "batchSize": 3,
        "approximateArrivalOfFirstRecord": "2026-12-01T10:00:00.000Z",
        "streamArn": "arn:aws:dynamodb:eu-central-1:1:table/oms-dev/stream/2026-01-01T00:00:00.000"}})
    pointer = StreamPointer.parse(body)
    assert pointer is not None and pointer.table == "oms-dev" and pointer.batch_size == 3
    assert pointer.past_retention(datetime.datetime(2026, 12, 2, 10, 0, tzinfo=datetime.UTC))
    assert not pointer.past_retention(datetime.datetime(2026, 12, 2, 9, 59, tzinfo=datetime.UTC))
    assert StreamPointer.parse('{"order": {}}') is None


FILTERS = [  # the mappings' own patterns as CloudFormation carries them (infra/constructs/stream_filters.py)
    {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"SK": {"S": ["ORDER"]}}}},
    {"eventName": ["MODIFY"], "dynamodb": {"NewImage": {"SK": {"S": [{"prefix": "SHIPMENT#"}]},
                                                        "status": {"S": ["DISPATCHED"]}},
                                           "OldImage": {"status": {"S": ["REQUESTED"]}}}},
    {"eventName": ["MODIFY"], "dynamodb": {"NewImage": {"SK": {"S": ["ORDER"]}, "status": {"S": ["CANCELLED"]}},
                                           "OldImage": {"status": {"S": [{"anything-but": ["CANCELLED"]}]}}}},
    {"dynamodb": {"NewImage": {"note": {"S": [{"exists": False}]}}}},
]


@pytest.mark.parametrize("pattern", FILTERS)
def test_the_replay_filters_records_as_lambda_does(pattern: dict[str, Any]) -> None:
    from moto.events.models import EventPattern

    from oms.streams import StreamConsumer

    def record(event: str, sk: str, new: str | None, old: str | None, note: bool = False) -> dict[str, Any]:
        images: dict[str, Any] = {"NewImage": {"SK": {"S": sk}, **({"status": {"S": new}} if new else {}),
                                               **({"note": {"S": "x"}} if note else {})}}
        if old:
            images["OldImage"] = {"SK": {"S": sk}, "status": {"S": old}}
        return {"eventName": event, "dynamodb": images}

    records = [record(e, sk, new, old, note)
               for e in ("INSERT", "MODIFY") for sk in ("ORDER", "SHIPMENT#s-1", "DETAILS")
               for new, old in (("DISPATCHED", "REQUESTED"), ("CANCELLED", "CAPTURED"), ("CANCELLED", "CANCELLED"),
                                (None, None)) for note in (False, True)]
    consumer = StreamConsumer(function_arn="arn:aws:lambda:eu-central-1:1:function:f", stream_arn="s",
                              filters=(pattern,))
    expected = [EventPattern.load(json.dumps(pattern)).matches_event(r) for r in records]
    assert [consumer.matches(r) for r in records] == expected
    assert any(expected)
