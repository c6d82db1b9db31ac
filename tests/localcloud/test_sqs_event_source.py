"""SQS -> Lambda event source mapping (localcloud.patches.sqs_event_source)."""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

import pytest

import localcloud
from localcloud.patches.sqs_event_source import SqsPoller
from tests.localcloud.lambdas import probe
from tests.localcloud.support import client, create_function, create_queue, drain_queue


def test_batches_partial_failures_and_dlq(aws: None) -> None:
    # Given a queue (DLQ after 3 receives) holding four good messages and one poison message,
    # and a function reporting the poison one as a batch item failure
    dlq_url, dlq_arn = create_queue("intake-dlq")
    url, arn = create_queue(
        "intake",
        VisibilityTimeout="30",
        RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3}),
    )
    sqs = client("sqs")
    bodies = ["a", "b", "poison", "c", "d"]
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies)])
    create_function("intake")

    def report_poison(event: Any, context: Any) -> dict[str, Any]:
        return {
            "batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"] if r["body"] == "poison"]
        }

    probe.BEHAVIOURS["intake"] = report_poison
    # When the mapping (batch size 10, ReportBatchItemFailures) starts polling
    client("lambda").create_event_source_mapping(
        EventSourceArn=arn, FunctionName="intake", BatchSize=10, FunctionResponseTypes=["ReportBatchItemFailures"]
    )
    localcloud.settle()
    # Then the first invocation got all five records in one batch, the good ones were deleted
    # after one delivery, the poison one was retried with a growing receive count and then
    # moved to the DLQ by the redrive policy
    batches = [[r["body"] for r in e["Records"]] for e in probe.calls("intake")]
    assert sorted(batches[0]) == sorted(bodies)
    assert batches[1:] == [["poison"], ["poison"]]
    counts = [r["attributes"]["ApproximateReceiveCount"] for e in probe.calls("intake") for r in e["Records"]]
    assert counts.count("3") == 1 and counts.count("2") == 1
    assert drain_queue(url) == []
    assert [m["Body"] for m in drain_queue(dlq_url)] == ["poison"]


def test_function_error_retries_the_whole_batch(aws: None) -> None:
    # Given a function that fails its first invocation
    url, arn = create_queue("jobs", VisibilityTimeout="10")
    client("sqs").send_message(
        QueueUrl=url, MessageBody="x", MessageAttributes={"kind": {"DataType": "String", "StringValue": "k"}}
    )
    create_function("jobs")
    failures = iter([True])

    def fail_once(event: Any, context: Any) -> None:
        if next(failures, False):
            raise RuntimeError("transient")

    probe.BEHAVIOURS["jobs"] = fail_once
    # When the mapping delivers
    client("lambda").create_event_source_mapping(EventSourceArn=arn, FunctionName="jobs")
    localcloud.settle()
    # Then the message was delivered again (receive count 2) and then deleted; records carry
    # the message attributes in the Lambda shape
    records = [e["Records"][0] for e in probe.calls("jobs")]
    assert [r["attributes"]["ApproximateReceiveCount"] for r in records] == ["1", "2"]
    assert records[0]["messageAttributes"]["kind"]["stringValue"] == "k"
    assert records[0]["eventSource"] == "aws:sqs" and records[0]["eventSourceARN"] == arn
    assert drain_queue(url) == []


def test_delivery_happens_after_send_message_returns(aws: None) -> None:
    # Given a mapped function that waits until the sender's call has returned
    url, arn = create_queue("async")
    create_function("async")
    sent = threading.Event()
    seen: list[bool] = []
    probe.BEHAVIOURS["async"] = lambda event, context: seen.append(sent.wait(timeout=3))
    client("lambda").create_event_source_mapping(EventSourceArn=arn, FunctionName="async")
    # When a message is sent
    client("sqs").send_message(QueueUrl=url, MessageBody="m")
    sent.set()
    localcloud.settle()
    # Then the handler ran outside the sender's call (moto alone would run it inside and block)
    assert seen == [True]


def test_filter_criteria_drop_non_matching_messages(aws: None) -> None:
    url, arn = create_queue("filtered")
    create_function("filtered")
    client("lambda").create_event_source_mapping(
        EventSourceArn=arn,
        FunctionName="filtered",
        FilterCriteria={"Filters": [{"Pattern": json.dumps({"body": {"kind": ["order"]}})}]},
    )
    for kind in ("order", "noise"):
        client("sqs").send_message(QueueUrl=url, MessageBody=json.dumps({"kind": kind}))
    localcloud.settle()
    assert [json.loads(e["Records"][0]["body"])["kind"] for e in probe.calls("filtered")] == ["order"]
    assert drain_queue(url) == []


def test_a_crashed_batch_becomes_visible_after_the_scaled_visibility_timeout(
    aws: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a queue with a 30 s visibility timeout, and delivery that crashes once (not a
    # function error: the poller itself fails between receiving and invoking)
    url, arn = create_queue("crashy", VisibilityTimeout="30")
    client("sqs").send_message(QueueUrl=url, MessageBody="m")
    create_function("crashy")
    crashes = iter([True])
    original = SqsPoller.invoke

    def invoke(self: SqsPoller, event: dict[str, Any]) -> Any:
        if self.esm.function_arn.endswith(":function:crashy") and next(crashes, False):
            raise RuntimeError("poller crashed")
        return original(self, event)

    monkeypatch.setattr(SqsPoller, "invoke", invoke)
    caplog.set_level(logging.ERROR, logger="localcloud.esm")
    # When the mapping delivers
    client("lambda").create_event_source_mapping(EventSourceArn=arn, FunctionName="crashy")
    # Then the crash was logged and the message came back after the scaled 30 s (30 ms here),
    # long before the real 30 s or the 3 s the receive hides it for, and was delivered on its
    # second receive
    localcloud.settle(timeout=2)
    assert any("delivering a batch of 1 message(s) failed" in r.getMessage() for r in caplog.records)
    records = [e["Records"][0] for e in probe.calls("crashy")]
    assert [(r["body"], r["attributes"]["ApproximateReceiveCount"]) for r in records] == [("m", "2")]
    assert drain_queue(url) == []
