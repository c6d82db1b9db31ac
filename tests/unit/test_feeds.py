"""Feeds on an in-memory store: the channel is the queue's, each order of a message is captured
as if posted with its key, refused ones become one dead letter each, and a retry of the
message neither captures twice nor dead-letters twice."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from functions.capture.adapters.dead_letter_queue import SqsDeadLetterQueue
from functions.capture.capturing import CaptureService
from functions.capture.feed_messages import parse_feed_message
from functions.capture.feeds import FeedIntake, RetryFeedMessage, feed_queue
from functions.capture.ports import CaptureInProgress
from functions.core.errors import TransientError
from tests.samples import order_body
from tests.unit.fakes import FakeOrderStore

WEBSHOP_QUEUE = "arn:aws:sqs:eu-central-1:123456789012:oms-local-intake-webshop"
WEBSHOP_DLQ = "https://sqs.eu-central-1.amazonaws.com/123456789012/oms-local-intake-webshop-dlq"


def message(*entries: tuple[str, Any], **envelope: Any) -> str:
    return json.dumps({**envelope, "orders": [{"idempotency_key": k, "order": o} for k, o in entries]})


@dataclass
class FakeDlq:
    sent: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    fail: bool = False

    def send(self, queue_url: str, bodies: list[dict[str, Any]]) -> None:
        if self.fail:
            raise TransientError("SQS throttled")
        self.sent += [(queue_url, json.loads(json.dumps(b))) for b in bodies]  # as SQS would carry it


class FlakyStore(FakeOrderStore):
    """Fails the capture of the orders whose channel_order_id is in ``failing`` with ``error``."""

    def __init__(self) -> None:
        super().__init__()
        self.failing: dict[str, Exception] = {}

    def create(self, order: Any, first_event: Any, **kwargs: Any) -> None:
        if order.channel_order_id in self.failing:
            raise self.failing[order.channel_order_id]
        super().create(order, first_event, **kwargs)


@dataclass
class Feed:
    store: FlakyStore = field(default_factory=FlakyStore)
    dlq: FakeDlq = field(default_factory=FakeDlq)

    def take(self, body: str, queue_arn: str = WEBSHOP_QUEUE) -> Any:
        intake = FeedIntake(capture=CaptureService(store=self.store), dead_letter_queue=self.dlq)
        return intake.take(feed_queue(queue_arn), parse_feed_message(body))

    def channels(self) -> list[str]:
        return sorted(o.channel for o in self.store.orders.values())


# --- the queue names the channel ----------------------------------------------------------------

def test_the_channel_and_dlq_come_from_the_queue_arn() -> None:
    queue = feed_queue("arn:aws:sqs:eu-west-1:210987654321:oms-prod-intake-wholesale-edi")
    assert queue.channel == "wholesale-edi"
    assert queue.dead_letter_url == "https://sqs.eu-west-1.amazonaws.com/210987654321/oms-prod-intake-wholesale-edi-dlq"


CHANNEL_IDS = st.from_regex(r"\A[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?\Z")


@given(env=st.sampled_from(["local", "dev", "staging", "prod"]), channel=CHANNEL_IDS)
def test_every_channel_id_the_config_accepts_reads_back_from_its_queue_name(env: str, channel: str) -> None:
    # the name infra/config.py builds: oms-<env>-intake-<channel>
    assert feed_queue(f"arn:aws:sqs:eu-central-1:123456789012:oms-{env}-intake-{channel}").channel == channel


@pytest.mark.parametrize("arn", [
    "arn:aws:sqs:eu-central-1:123456789012:oms-local-order-intake",  # the old shared queue
    "arn:aws:sqs:eu-central-1:123456789012:oms-local-intake-webshop-dlq.fifo",
    "arn:aws:sqs:eu-central-1:123456789012:oms-local-intake-webshop-dlq",  # a DLQ is no channel's queue
    "arn:aws:sqs:eu-central-1:123456789012:oms-local-intake-Web_Shop",
    "arn:aws:sqs:eu-central-1:123456789012:someone-elses-queue",
    "arn:aws:sns:eu-central-1:123456789012:oms-local-intake-webshop",
    "arn",
])
def test_a_queue_that_is_no_channels_intake_queue_names_no_channel(arn: str) -> None:
    with pytest.raises(ValueError, match="queue"):
        feed_queue(arn)


# --- parsing ------------------------------------------------------------------------------------

def test_a_channel_member_anywhere_is_ignored_never_an_error() -> None:
    order = order_body(channel="marketplace")
    order["customer"]["channel"] = "marketplace"
    parsed = parse_feed_message(json.dumps({"channel": "marketplace", "orders": [
        {"idempotency_key": "k-1", "order": order, "channel": "marketplace"}]}))
    (entry,) = parsed.orders
    assert parsed.refused is None and entry.errors == () and entry.command is not None
    assert "channel" not in entry.order and "channel" not in entry.order["customer"]


def test_each_order_is_checked_on_its_own_with_the_apis_field_names() -> None:
    bad = order_body(lines=[{"sku": "SKU-1", "quantity": 0, "unit_price": "1.00"}], colour="red")
    parsed = parse_feed_message(message(("k-1", order_body()), ("k-2", bad), ("", order_body())))
    good, invalid, keyless = parsed.orders
    assert good.command is not None
    assert invalid.command is None and invalid.idempotency_key == "k-2"
    assert {(e.field, e.message) for e in invalid.errors} == {
        ("lines[0].quantity", "Input should be greater than or equal to 1"), ("colour", "is not a known field")}
    assert [e.field for e in keyless.errors] == ["idempotency_key"]


@pytest.mark.parametrize(("body", "field", "says"), [
    ("not json", "body", "is not valid JSON"),
    ('{"order": {}}', "orders", "is required"),
    ('[{"idempotency_key": "k", "order": {}}]', "orders", "is required"),
    ('{"orders": {"idempotency_key": "k"}}', "orders", "is required"),
    ('{"orders": []}', "orders", "needs at least one entry"),
    ('{"orders": ' + "[" * 50 + "]" * 50 + "}", "body", "nested"),
    ('{"orders": ' + "[" * 100_000 + "]" * 100_000 + "}", "body", "nested"),
])
def test_a_message_without_an_orders_list_is_refused_whole(body: str, field: str, says: str) -> None:
    parsed = parse_feed_message(body)
    assert parsed.orders == () and parsed.refused is not None
    letter = parsed.refused.body()
    assert letter["idempotency_key"] is None and letter["order"] is None
    if len(body) <= 64 * 1024:
        assert letter["message"] == body and "message_truncated" not in letter
    else:  # its first 64 KB
        assert letter["message"] == body[:64 * 1024] and letter["message_truncated"] is True
    assert letter["errors"][0]["field"] == field and says in letter["errors"][0]["message"]


def test_a_message_with_more_than_100_orders_is_refused_whole_naming_orders() -> None:
    # Given 100 orders, they are read; 101 cannot be captured within one delivery's time
    assert len(parse_feed_message(message(*[(f"k-{i}", order_body()) for i in range(100)])).orders) == 100
    feed = Feed()
    outcome = feed.take(message(*[(f"k-{i}", order_body()) for i in range(101)]))
    # Then nothing of it is captured and the whole message is one dead letter with the reason
    assert outcome.captured == [] and feed.store.orders == {}
    ((_, letter),) = feed.dlq.sent
    assert letter["errors"] == [{"field": "orders", "message": "at most 100 orders per message"}]
    assert letter["idempotency_key"] is None and len(json.loads(letter["message"])["orders"]) == 101


def test_an_entry_that_is_not_an_object_is_refused_alone() -> None:
    parsed = parse_feed_message(json.dumps({"orders": ["WEB-1", {"idempotency_key": "k", "order": order_body()}]}))
    text, good = parsed.orders
    assert text.command is None and text.order == "WEB-1" and [e.field for e in text.errors] == ["order"]
    assert good.command is not None


def test_a_dead_letter_put_back_on_its_queue_is_read_as_what_it_holds() -> None:
    # an order's dead letter: that order, under its key
    letter = {"idempotency_key": "k-9", "order": order_body(), "errors": [{"field": "x", "message": "y"}]}
    (entry,) = parse_feed_message(json.dumps(letter)).orders
    assert entry.idempotency_key == "k-9" and entry.command is not None
    # a whole message's dead letter: the message it refused (here still refused, and not nested)
    whole = parse_feed_message("not json").refused
    assert whole is not None
    again = parse_feed_message(json.dumps(whole.body())).refused
    assert again is not None and again.message == "not json"
    fixed = {**whole.body(), "message": message(("k-10", order_body()))}
    assert parse_feed_message(json.dumps(fixed)).orders[0].idempotency_key == "k-10"


# --- capture and dead letters -----------------------------------------------------------------

def test_orders_are_captured_for_the_queues_channel_whatever_the_body_says() -> None:
    feed = Feed()
    outcome = feed.take(message(("k-1", order_body(channel="marketplace")), channel="marketplace"))
    assert len(outcome.captured) == 1 and feed.channels() == ["webshop"] and feed.dlq.sent == []


def test_valid_orders_are_captured_and_each_invalid_one_dead_lettered_with_its_errors() -> None:
    feed = Feed()
    bad_total = order_body(payment={"method": "card", "authorization_id": "a", "amount": "1.00"})
    bad_shape = order_body(currency="XXX")
    outcome = feed.take(message(("k-1", order_body()), ("k-2", bad_total), ("k-3", bad_shape)))
    assert len(outcome.captured) == 1 and len(feed.store.orders) == 1
    assert [url for url, _ in feed.dlq.sent] == [WEBSHOP_DLQ, WEBSHOP_DLQ]
    letters = {b["idempotency_key"]: b for _, b in feed.dlq.sent}
    assert letters["k-2"]["order"] == bad_total
    assert [e["field"] for e in letters["k-2"]["errors"]] == ["payment.amount"]  # a rule of the use case
    assert [e["field"] for e in letters["k-3"]["errors"]] == ["currency"]  # the shape
    assert set(letters["k-3"]) == {"idempotency_key", "order", "errors"}


def test_a_different_order_reusing_a_channel_order_id_is_dead_lettered() -> None:
    feed = Feed()
    feed.take(message(("k-1", order_body(channel_order_id="WEB-7"))))
    other = order_body(channel_order_id="WEB-7")
    other["customer"]["name"] = "Someone Else"
    outcome = feed.take(message(("k-2", other)))
    assert outcome.captured == [] and len(feed.store.orders) == 1
    ((_, letter),) = feed.dlq.sent
    assert letter["idempotency_key"] == "k-2" and letter["order"] == other
    (error,) = letter["errors"]
    assert error["field"] == "channel_order_id" and error["message"].startswith("was already captured as order ord_")


def test_a_key_reused_for_another_order_is_dead_lettered_naming_the_key() -> None:
    feed = Feed()
    feed.take(message(("k-1", order_body())))
    feed.take(message(("k-1", order_body())))  # another channel_order_id under the same key
    ((_, letter),) = feed.dlq.sent
    assert [e["field"] for e in letter["errors"]] == ["idempotency_key"]


def test_the_key_is_checked_before_the_body_as_the_api_does() -> None:
    feed = Feed()
    feed.take(message(("k-1", order_body())))
    # a used key with another, invalid, order: the key's conflict, not the body's errors
    feed.take(message(("k-1", {"lines": []})))
    ((_, letter),) = feed.dlq.sent
    assert [e["field"] for e in letter["errors"]] == ["idempotency_key"] and len(feed.store.orders) == 1


def test_a_replayed_message_changes_nothing() -> None:
    feed = Feed()
    body = message(("k-1", order_body()), ("k-2", order_body()))
    first = feed.take(body)
    again = feed.take(body)
    assert len(first.captured) == 2 and again.captured == [] and sorted(again.replayed) == sorted(first.captured)
    assert len(feed.store.orders) == 2 and feed.dlq.sent == []


@pytest.mark.parametrize("failure", [TransientError("throttled"), CaptureInProgress()])
def test_a_transient_failure_retries_the_message_and_the_retry_captures_and_dead_letters_once(
        failure: Exception) -> None:
    feed = Feed()
    flaky = order_body(channel_order_id="WEB-FLAKY")
    body = message(("k-1", order_body()), ("k-2", flaky), ("k-3", {"lines": []}))
    feed.store.failing["WEB-FLAKY"] = failure
    # When one order cannot be captured now: the record fails (SQS delivers it again) after the
    # others were tried, and nothing is dead-lettered yet
    with pytest.raises(RetryFeedMessage):
        feed.take(body)
    assert len(feed.store.orders) == 1 and feed.dlq.sent == []
    # Then the redelivery captures the rest, replays the first, and dead-letters the invalid once
    del feed.store.failing["WEB-FLAKY"]
    outcome = feed.take(body)
    assert len(outcome.captured) == 1 and len(outcome.replayed) == 1 and len(feed.store.orders) == 2
    assert [b["idempotency_key"] for _, b in feed.dlq.sent] == ["k-3"]
    # A delivery after the record succeeded (SQS is at least once) captures nothing new; its
    # dead letter may come again, the same one (readers de-duplicate by idempotency_key)
    feed.take(body)
    assert len(feed.store.orders) == 2
    letters = {json.dumps(b, sort_keys=True) for _, b in feed.dlq.sent}
    assert len(letters) == 1 and json.loads(letters.pop())["idempotency_key"] == "k-3"


def test_a_dlq_that_refuses_fails_the_record_so_nothing_refused_is_lost() -> None:
    feed = Feed(dlq=FakeDlq(fail=True))
    with pytest.raises(TransientError):
        feed.take(message(("k-1", order_body()), ("k-2", {"lines": []})))
    assert len(feed.store.orders) == 1  # captured; the retry replays it


def test_a_message_refused_whole_is_one_dead_letter_with_the_message() -> None:
    feed = Feed()
    feed.take('{"channel": "webshop", "idempotency_key": "k", "order": {}}')  # the old single-order shape
    ((_, letter),) = feed.dlq.sent
    assert letter["errors"][0]["field"] == "orders" and json.loads(letter["message"])["idempotency_key"] == "k"


# --- the SQS adapter ------------------------------------------------------------------------------

SQS_MAX_BYTES = 256 * 1024


@dataclass
class FakeSqs:
    """Answers SendMessageBatch as SQS documents it: a message, and a batch in all, of at most
    256 KiB (the body's UTF-8 bytes), at most 10 entries."""

    batches: list[list[dict[str, Any]]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        sizes = [len(e["MessageBody"].encode("utf-8")) for e in Entries]
        if len(Entries) > 10:
            raise ClientError({"Error": {"Code": "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"}},
                              "SendMessageBatch")
        if max(sizes) > SQS_MAX_BYTES:
            raise ClientError({"Error": {"Code": "InvalidParameterValue"}}, "SendMessageBatch")
        if sum(sizes) > SQS_MAX_BYTES:
            raise ClientError({"Error": {"Code": "AWS.SimpleQueueService.BatchRequestTooLong"}},
                              "SendMessageBatch")
        self.batches.append(Entries)
        return {"Successful": [{"Id": e["Id"]} for e in Entries], "Failed": self.failed}


def test_the_adapter_sends_one_message_per_dead_letter_in_batches_sqs_accepts() -> None:
    sqs = FakeSqs()
    big = {"order": "x" * 100_000}
    SqsDeadLetterQueue(sqs).send(WEBSHOP_DLQ, [{"n": i} for i in range(23)] + [big, big, big])
    # ≤ 10 entries and ≤ 256 KiB a batch
    assert [len(b) for b in sqs.batches] == [10, 10, 5, 1]
    assert all(sum(len(e["MessageBody"].encode()) for e in b) <= 256 * 1024 for b in sqs.batches)
    sent = [json.loads(e["MessageBody"]) for b in sqs.batches for e in b]
    assert sent[:23] == [{"n": i} for i in range(23)] and sent[23:] == [big] * 3


def test_the_adapter_raises_a_transient_error_when_sqs_refuses_a_message() -> None:
    sqs = FakeSqs(failed=[{"Id": "0", "Code": "InternalError", "SenderFault": False}])
    with pytest.raises(TransientError, match="refused 1"):
        SqsDeadLetterQueue(sqs).send(WEBSHOP_DLQ, [{"n": 1}])


# --- the API function does not pay for the feed -------------------------------------------------

@pytest.mark.timeout(60)
def test_the_api_handler_loads_none_of_the_feeds_modules() -> None:
    # Given a fresh interpreter, when the API function's handler is imported (its cold start),
    # then neither the feed's use case nor its message parsing nor its SQS adapter is loaded
    import subprocess
    import sys
    from pathlib import Path

    code = ("import sys, functions.capture.handlers.api; "
            "print(','.join(m for m in sys.modules if m.startswith('functions.capture.feed') "
            "or m == 'functions.capture.adapters.dead_letter_queue'))")
    result = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2],
                            capture_output=True, text=True, check=True, timeout=60)
    assert result.stdout.strip() == ""


# --- a batch that cannot finish in time -----------------------------------------------------------

class ClockedContext:
    """A Lambda context whose remaining time drops by ``per_call_ms`` each time it is read."""

    function_name = "intake"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:eu-central-1:123456789012:function:intake"
    aws_request_id = "req-1"

    def __init__(self, remaining_ms: int, per_call_ms: int) -> None:
        self.remaining_ms, self.per_call_ms = remaining_ms, per_call_ms

    def get_remaining_time_in_millis(self) -> int:
        left, self.remaining_ms = self.remaining_ms, self.remaining_ms - self.per_call_ms
        return left


def sqs_event(n: int) -> dict[str, Any]:
    return {"Records": [{"messageId": f"m-{i}", "receiptHandle": "r", "body": str(i), "attributes": {},
                         "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                         "eventSourceARN": WEBSHOP_QUEUE, "awsRegion": "eu-central-1"} for i in range(n)]}


@pytest.mark.timeout(30)
def test_records_left_when_time_runs_short_are_failed_at_once_not_started() -> None:
    from functions.core.handlers.entrypoints import batch_handler

    taken: list[str] = []
    handler = batch_handler("SQS", lambda record: taken.append(record.body), reserve_ms=3_000)
    # Given 10 s left and each record costing 2 s: records start while 3 s or more remain
    response = handler(sqs_event(6), ClockedContext(remaining_ms=10_000, per_call_ms=2_000))
    # Then the first four are taken and the last two fail untouched: SQS delivers them again
    assert taken == ["0", "1", "2", "3"]
    assert response == {"batchItemFailures": [{"itemIdentifier": "m-4"}, {"itemIdentifier": "m-5"}]}


@pytest.mark.parametrize(("remaining_ms", "per_record_ms", "captured"), [(10_000, 0, 2), (4_000, 1_001, 1)])
def test_the_intake_function_starts_no_record_with_less_than_3_s_left(
        monkeypatch: pytest.MonkeyPatch, remaining_ms: int, per_record_ms: int, captured: int) -> None:
    from functions.capture.handlers import intake

    feed = Feed()
    monkeypatch.setattr(intake, "feed_intake", lambda: FeedIntake(capture=CaptureService(store=feed.store),
                                                                  dead_letter_queue=feed.dlq))
    event = sqs_event(2)
    for i, record in enumerate(event["Records"]):
        record["body"] = message((f"k-{i}", order_body()))
    response = intake.lambda_handler(event, ClockedContext(remaining_ms=remaining_ms, per_call_ms=per_record_ms))
    assert len(feed.store.orders) == captured
    assert len(response["batchItemFailures"]) == 2 - captured


# --- a large message refused whole still reaches the DLQ in the contract's shape ----------------

def test_non_ascii_dead_letters_are_sent_as_utf8_and_batched_by_their_bytes() -> None:
    # Given three dead letters of ~120 KB of UTF-8 each (escaped as \\u00e9 they would be 360 KB)
    sqs = FakeSqs()
    letters = [{"idempotency_key": f"k-{i}", "order": {"note": "é" * 60_000}, "errors": []} for i in range(3)]
    SqsDeadLetterQueue(sqs).send(WEBSHOP_DLQ, letters)
    # Then each is one message, as it was, in batches SQS accepts
    assert [len(b) for b in sqs.batches] == [2, 1]
    assert [json.loads(e["MessageBody"]) for b in sqs.batches for e in b] == letters


@pytest.mark.parametrize("text", [
    "é" * 120_000, '{"orders": ' + json.dumps(["ä" * 1000] * 120, ensure_ascii=False) + "}"])
def test_a_large_message_refused_whole_is_dead_lettered_with_its_first_64_kb(text: str) -> None:
    # Given a message of ~240 KB (non-ASCII: it would grow past SQS's 256 KiB if escaped)
    feed = Feed(dlq=SqsDeadLetterQueue(FakeSqs()))  # type: ignore[arg-type]
    assert 200_000 < len(text.encode()) < SQS_MAX_BYTES
    # When it is refused whole, then its dead letter is sent (no retry), holding its start
    feed.take(text)
    ((entry,),) = feed.dlq._client.batches  # type: ignore[attr-defined]
    letter = json.loads(entry["MessageBody"])
    assert letter["message_truncated"] is True and letter["errors"]
    assert text.startswith(letter["message"]) and 64 * 1024 - 4 < len(letter["message"].encode()) <= 64 * 1024
    # and put back on its queue it is refused again, saying why, rather than read as broken JSON
    again = parse_feed_message(entry["MessageBody"]).refused
    assert again is not None and [e.field for e in again.errors] == ["message"]
    assert "truncated" in again.errors[0].message and again.body()["message_truncated"] is True


def test_a_short_message_refused_whole_is_dead_lettered_whole() -> None:
    letter = parse_feed_message("not json " + "ö" * 1000).refused
    assert letter is not None and "message_truncated" not in letter.body()
    assert letter.body()["message"] == "not json " + "ö" * 1000


def test_an_order_too_large_for_its_dead_letter_is_dead_lettered_with_its_start() -> None:
    # Given one order of ~220 KB (within SQS's 256 KiB as sent) with 1,001 field errors: the
    # order and its errors together would not fit in one SQS message
    lines = [{"sku": "ü" * 200, "quantity": 0, "unit_price": "x", "tax_class": "bogus", "colour": "red"}] * 250
    text = json.dumps({"orders": [{"idempotency_key": "k-big", "order": order_body(lines=lines, note="ü" * 50_000)}]},
                      ensure_ascii=False)
    assert len(text.encode()) < SQS_MAX_BYTES
    feed = Feed(dlq=SqsDeadLetterQueue(FakeSqs()))  # type: ignore[arg-type]
    # When it is refused, then its dead letter is sent (no retry): under its key, the first
    # errors, and the order's first 64 KB as text
    feed.take(text)
    ((entry,),) = feed.dlq._client.batches  # type: ignore[attr-defined]
    letter = json.loads(entry["MessageBody"])
    assert letter["idempotency_key"] == "k-big" and letter["order"] is None and letter["message_truncated"] is True
    assert letter["errors"][-1]["field"] == "order" and "too large" in letter["errors"][-1]["message"]
    assert len(letter["errors"]) <= 101 and letter["errors"][0]["field"].startswith("lines[0].")
    assert len(letter["message"].encode()) <= 64 * 1024 and letter["message"].startswith('{"channel_order_id"')
