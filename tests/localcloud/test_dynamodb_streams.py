"""DynamoDB Streams -> Lambda (localcloud.patches.dynamodb_streams)."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

import localcloud
from tests.localcloud.lambdas import probe
from tests.localcloud.support import client, create_function, create_queue, create_table, drain_queue


def _put(table: str, pk: str, sk: str = "ORDER", **extra: str) -> None:
    item = {"PK": {"S": pk}, "SK": {"S": sk}, **{k: {"S": v} for k, v in extra.items()}}
    client("dynamodb").put_item(TableName=table, Item=item)


def _keys(event: dict[str, Any]) -> list[str]:
    return [r["dynamodb"]["Keys"]["PK"]["S"] for r in event["Records"]]


def test_records_arrive_after_the_write_returns_in_order_without_reentry(aws: None) -> None:
    # Given a stream consumer that waits until the writer's call returned, and that writes an
    # event item to its own table for every order record it gets
    stream = create_table("orders")
    create_function("consumer")
    written = threading.Event()
    depth = {"now": 0, "max": 0}
    released: list[bool] = []

    def consume(event: Any, context: Any) -> None:
        depth["now"] += 1
        depth["max"] = max(depth["max"], depth["now"])
        released.append(written.wait(timeout=3))
        for record in event["Records"]:
            if record["dynamodb"]["Keys"]["SK"]["S"] == "ORDER":
                _put("orders", record["dynamodb"]["Keys"]["PK"]["S"], sk="EVENT#1")
        depth["now"] -= 1

    probe.BEHAVIOURS["consumer"] = consume
    client("lambda").create_event_source_mapping(
        EventSourceArn=stream, FunctionName="consumer", StartingPosition="TRIM_HORIZON", BatchSize=2
    )
    # When five orders are written
    _put("orders", "ORDER#0")
    written.set()
    for i in range(1, 5):
        _put("orders", f"ORDER#{i}")
    localcloud.settle()
    # Then the first delivery happened after put_item returned (moto alone calls the handler
    # inside put_item: it would wait 3 s and see False), the handler never re-entered itself,
    # every record came exactly once in write order, and batches respected BatchSize
    assert released and all(released)
    assert depth["max"] == 1
    calls = probe.calls("consumer")
    delivered = [
        pk + "/" + r["dynamodb"]["Keys"]["SK"]["S"] for e in calls for pk, r in zip(_keys(e), e["Records"], strict=True)
    ]
    orders = [d for d in delivered if d.endswith("/ORDER")]
    assert orders == [f"ORDER#{i}/ORDER" for i in range(5)]
    assert sorted(d for d in delivered if d.endswith("/EVENT#1")) == [f"ORDER#{i}/EVENT#1" for i in range(5)]
    assert all(len(e["Records"]) <= 2 for e in calls)
    sequence = [int(r["dynamodb"]["SequenceNumber"]) for e in calls for r in e["Records"]]
    assert sequence == sorted(sequence)
    # and the shard still holds the records for GetRecords (moto alone empties it)
    streams = client("dynamodbstreams")
    shard = streams.describe_stream(StreamArn=stream)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=stream, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    assert len(streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]) == 10


def test_filter_and_on_failure_destination(aws: None) -> None:
    # Given the OMS consumer's filter (only SK = ORDER), two retries, an SQS on-failure
    # destination, and a handler that always fails on ORDER#bad
    stream = create_table("orders")
    dlq_url, dlq_arn = create_queue("stream-dlq")
    create_function("consumer")

    def fail_on_bad(event: Any, context: Any) -> None:
        if "ORDER#bad" in _keys(event):
            raise RuntimeError("cannot process")

    probe.BEHAVIOURS["consumer"] = fail_on_bad
    client("lambda").create_event_source_mapping(
        EventSourceArn=stream,
        FunctionName="consumer",
        StartingPosition="TRIM_HORIZON",
        MaximumRetryAttempts=2,
        DestinationConfig={"OnFailure": {"Destination": dlq_arn}},
        FilterCriteria={"Filters": [{"Pattern": json.dumps({"dynamodb": {"NewImage": {"SK": {"S": ["ORDER"]}}}})}]},
    )
    # When an order, a non-order item, a bad order and another order are written
    _put("orders", "ORDER#1")
    _put("orders", "ORDER#1", sk="EVENT#1")
    localcloud.settle()
    _put("orders", "ORDER#bad")
    localcloud.settle()
    _put("orders", "ORDER#2")
    localcloud.settle()
    # Then the event item never reached the function, the bad record was tried 1 + 2 times,
    # then its AWS failure record went to the destination, and the shard moved on
    delivered = [_keys(e) for e in probe.calls("consumer")]
    assert delivered == [["ORDER#1"], ["ORDER#bad"], ["ORDER#bad"], ["ORDER#bad"], ["ORDER#2"]]
    (failure,) = [json.loads(m["Body"]) for m in drain_queue(dlq_url)]
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["requestContext"]["approximateInvokeCount"] == 3
    assert failure["responseContext"]["functionError"] == "Unhandled"
    info = failure["DDBStreamBatchInfo"]
    assert info["batchSize"] == 1 and info["streamArn"] == stream
    assert info["startSequenceNumber"] == info["endSequenceNumber"]


def test_partial_batch_response_retries_from_first_failure(aws: None) -> None:
    # Given a batch of three where the handler reports the second as failed once
    stream = create_table("orders")
    create_function("consumer")
    for i in range(3):
        _put("orders", f"ORDER#{i}")
    failed_once: set[str] = set()

    def report_second(event: Any, context: Any) -> dict[str, Any]:
        records = event["Records"]
        for record in records:
            pk = record["dynamodb"]["Keys"]["PK"]["S"]
            if pk == "ORDER#1" and pk not in failed_once:
                failed_once.add(pk)
                return {"batchItemFailures": [{"itemIdentifier": record["dynamodb"]["SequenceNumber"]}]}
        return {"batchItemFailures": []}

    probe.BEHAVIOURS["consumer"] = report_second
    # When the mapping (ReportBatchItemFailures) delivers
    client("lambda").create_event_source_mapping(
        EventSourceArn=stream,
        FunctionName="consumer",
        StartingPosition="TRIM_HORIZON",
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    localcloud.settle()
    # Then the retry starts at the failed record, not at the start of the batch
    assert [_keys(e) for e in probe.calls("consumer")] == [["ORDER#0", "ORDER#1", "ORDER#2"], ["ORDER#1", "ORDER#2"]]


def test_bisect_isolates_the_poison_record(aws: None) -> None:
    # Given four records, one poison, with bisect on error and no retries left for a lone record
    stream = create_table("orders")
    dlq_url, dlq_arn = create_queue("stream-dlq")
    create_function("consumer")
    for i in range(4):
        _put("orders", f"ORDER#{i}")

    def poison(event: Any, context: Any) -> None:
        if "ORDER#3" in _keys(event):
            raise RuntimeError("poison")

    probe.BEHAVIOURS["consumer"] = poison
    # When delivered with BisectBatchOnFunctionError and MaximumRetryAttempts 2
    client("lambda").create_event_source_mapping(
        EventSourceArn=stream,
        FunctionName="consumer",
        StartingPosition="TRIM_HORIZON",
        BisectBatchOnFunctionError=True,
        MaximumRetryAttempts=2,
        DestinationConfig={"OnFailure": {"Destination": dlq_arn}},
    )
    localcloud.settle()
    # Then the batch was halved until the poison record was alone, and only it failed
    assert [_keys(e) for e in probe.calls("consumer")] == [
        ["ORDER#0", "ORDER#1", "ORDER#2", "ORDER#3"],
        ["ORDER#0", "ORDER#1"],
        ["ORDER#2", "ORDER#3"],
        ["ORDER#2"],
        ["ORDER#3"],
    ]
    (failure,) = [json.loads(m["Body"]) for m in drain_queue(dlq_url)]
    assert failure["DDBStreamBatchInfo"]["batchSize"] == 1


def test_a_cancelled_transaction_does_not_end_the_mapping(aws: None) -> None:
    # Given a mapped table holding one delivered order
    stream = create_table("orders")
    create_function("consumer")
    client("lambda").create_event_source_mapping(
        EventSourceArn=stream, FunctionName="consumer", StartingPosition="TRIM_HORIZON"
    )
    _put("orders", "ORDER#1")
    localcloud.settle()
    # When a transaction is cancelled (moto then puts back a deep copy of the table, which made
    # the poller take the table for deleted and stop) and another order is written
    ddb = client("dynamodb")
    with pytest.raises(ddb.exceptions.TransactionCanceledException):
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": "orders", "Item": {"PK": {"S": "ORDER#x"}, "SK": {"S": "ORDER"}}}},
                {
                    "Put": {
                        "TableName": "orders",
                        "Item": {"PK": {"S": "ORDER#1"}, "SK": {"S": "ORDER"}},
                        "ConditionExpression": "attribute_not_exists(PK)",
                    }
                },
            ]
        )
    _put("orders", "ORDER#2")
    localcloud.settle()
    # Then the later write is delivered, once, and nothing of the cancelled transaction
    assert [_keys(e) for e in probe.calls("consumer")] == [["ORDER#1"], ["ORDER#2"]]


def test_a_disabled_mapping_holds_its_records_until_it_is_enabled_again(aws: None) -> None:
    # Given a stream consumer whose mapping is disabled (as make bench does around a timed call)
    stream = create_table("orders")
    create_function("consumer")
    lam = client("lambda")
    mapping = lam.create_event_source_mapping(EventSourceArn=stream, FunctionName="consumer",
                                              StartingPosition="TRIM_HORIZON")["UUID"]
    lam.update_event_source_mapping(UUID=mapping, Enabled=False)
    # When an order is written, nothing is delivered while it stays disabled
    _put("orders", "ORDER#1")
    localcloud.settle()
    assert probe.calls("consumer") == []
    # Then enabling it delivers the record (settle waits for the resumed poller)
    lam.update_event_source_mapping(UUID=mapping, Enabled=True)
    localcloud.settle()
    assert [_keys(e) for e in probe.calls("consumer")] == [["ORDER#1"]]
