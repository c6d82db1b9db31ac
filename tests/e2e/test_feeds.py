"""Feeds, as a channel's connector uses them: boto3 against the local cloud's endpoint (from
``/_local/info``), one intake queue per channel, the channel taken from the queue, refused
orders on the queue's DLQ one message each (API.md, "Channels and webhooks" → Feeds)."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import KEYS
from tests.e2e.orders import key, new_order

pytestmark = pytest.mark.timeout(120)


def send(aws: Any, info: dict[str, Any], queue: str, *entries: tuple[str, Any], **envelope: Any) -> None:
    """Put one message of ``entries`` on the intake queue of channel ``queue``."""
    body = {**envelope, "orders": [{"idempotency_key": k, "order": o} for k, o in entries]}
    aws("sqs").send_message(QueueUrl=info["intake_queues"][queue], MessageBody=json.dumps(body))


def drained(aws: Any, url: str, timeout: float = 30.0) -> None:
    """Wait until the queue holds nothing, visible or in flight: every message was taken."""
    sqs, deadline = aws("sqs"), time.monotonic() + timeout
    while time.monotonic() < deadline:
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        if attrs["ApproximateNumberOfMessages"] == attrs["ApproximateNumberOfMessagesNotVisible"] == "0":
            return
        time.sleep(0.2)
    raise AssertionError(f"{url} still holds messages after {timeout} s")


def orders_with(http: httpx.Client, channel: str, channel_order_id: str) -> list[dict[str, Any]]:
    r = http.get("/orders", params={"limit": 100}, headers={"x-api-key": KEYS[channel]})
    assert r.status_code == 200, r.text
    return [o for o in r.json()["orders"] if o.get("channel_order_id") == channel_order_id]


def wait_for_order(http: httpx.Client, channel: str, channel_order_id: str, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while not (found := orders_with(http, channel, channel_order_id)):
        assert time.monotonic() < deadline, f"{channel_order_id} was not captured for {channel}"
        time.sleep(0.2)
    (order,) = found
    return order


def dead_letters(aws: Any, info: dict[str, Any], channel: str, idempotency_key: str,
                 timeout: float = 30.0, expect: int = 1) -> list[dict[str, Any]]:
    """The dead letters for ``idempotency_key`` on ``channel``'s DLQ (read and removed, as the
    channel's connector would), waiting for ``expect`` of them."""
    sqs = aws("sqs")
    url = info["dead_letter_queues"][f"oms-local-intake-{channel}-dlq"]
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(found) < expect and time.monotonic() < deadline:
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                     VisibilityTimeout=30).get("Messages", []):
            letter = json.loads(m["Body"])
            if letter.get("idempotency_key") == idempotency_key:
                found.append(letter)
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            else:  # another test's: leave it for its reader
                sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
    return found


def test_local_info_lists_each_channels_intake_queue_and_the_dead_letter_queues(local_info: dict[str, Any]) -> None:
    assert set(local_info["intake_queues"]) == {"webshop", "marketplace"}
    assert local_info["intake_queues"]["webshop"].endswith("/oms-local-intake-webshop")
    assert {"oms-local-intake-webshop-dlq", "oms-local-intake-marketplace-dlq",
            "oms-local-order-stream-dlq"} <= set(local_info["dead_letter_queues"])


def test_an_order_naming_another_channel_is_captured_for_the_queues_channel(
        http: httpx.Client, aws: Any, local_info: dict[str, Any]) -> None:
    # Given an order on the webshop's queue whose body (and envelope) claim the marketplace
    order = new_order(channel="marketplace")
    send(aws, local_info, "webshop", (key(), order), channel="marketplace")
    # Then it is the webshop's order, and the marketplace cannot see it
    summary = wait_for_order(http, "webshop", order["channel_order_id"])
    assert summary["channel"] == "webshop"
    got = http.get(f"/orders/{summary['order_id']}", headers={"x-api-key": KEYS["webshop"]})
    assert got.status_code == 200 and got.json()["channel"] == "webshop"
    assert http.get(f"/orders/{summary['order_id']}", headers={"x-api-key": KEYS["marketplace"]}).status_code == 404
    assert orders_with(http, "marketplace", order["channel_order_id"]) == []


def test_the_valid_order_of_a_message_is_captured_and_the_invalid_one_dead_lettered_with_its_errors(
        http: httpx.Client, aws: Any, local_info: dict[str, Any]) -> None:
    # Given one message with a good order and one with a zero quantity and an unknown field
    good, bad = new_order(), new_order(lines=[{"sku": "SKU-RED-MUG", "quantity": 0, "unit_price": "12.50"}])
    bad["gift_wrap"] = True
    bad_key = key()
    send(aws, local_info, "marketplace", (key(), good), (bad_key, bad))
    # Then the good one is captured, and the bad one waits on the marketplace's DLQ, alone,
    # with the API's field errors
    wait_for_order(http, "marketplace", good["channel_order_id"])
    (letter,) = dead_letters(aws, local_info, "marketplace", bad_key)
    assert set(letter) == {"idempotency_key", "order", "errors"} and letter["order"] == bad
    assert {(e["field"], e["message"]) for e in letter["errors"]} == {
        ("lines[0].quantity", "Input should be greater than or equal to 1"), ("gift_wrap", "is not a known field")}
    assert orders_with(http, "marketplace", bad["channel_order_id"]) == []


def test_a_different_order_reusing_a_channel_order_id_is_dead_lettered(
        http: httpx.Client, aws: Any, local_info: dict[str, Any]) -> None:
    # Given an order the webshop's feed already delivered
    first = new_order()
    send(aws, local_info, "webshop", (key(), first))
    captured = wait_for_order(http, "webshop", first["channel_order_id"])
    # When another order arrives with the same channel_order_id (under a new key)
    other = new_order(channel_order_id=first["channel_order_id"], quantity=1)
    other_key = key()
    send(aws, local_info, "webshop", (other_key, other))
    # Then it is dead-lettered naming the channel_order_id, and the first order stands alone
    (letter,) = dead_letters(aws, local_info, "webshop", other_key)
    (error,) = letter["errors"]
    assert error["field"] == "channel_order_id" and captured["order_id"] in error["message"]
    assert letter["order"] == other
    assert [o["order_id"] for o in orders_with(http, "webshop", first["channel_order_id"])] == [captured["order_id"]]


def test_a_replayed_message_changes_nothing(http: httpx.Client, aws: Any, local_info: dict[str, Any]) -> None:
    # Given a message of two orders, captured
    one, two = new_order(), new_order()
    entries = ((key(), one), (key(), two))
    send(aws, local_info, "webshop", *entries)
    before = {o["channel_order_id"]: wait_for_order(http, "webshop", o["channel_order_id"]) for o in (one, two)}
    # When the same message arrives again (a connector's retry, at-least-once delivery)
    send(aws, local_info, "webshop", *entries)
    drained(aws, local_info["intake_queues"]["webshop"])
    # Then the same two orders exist, once each, and nothing was refused
    for ref, captured in before.items():
        assert [o["order_id"] for o in orders_with(http, "webshop", ref)] == [captured["order_id"]]
    for k, _ in entries:
        assert dead_letters(aws, local_info, "webshop", k, timeout=2, expect=1) == []


def test_a_large_message_of_too_many_orders_is_dead_lettered_whole_with_its_start(
        http: httpx.Client, aws: Any, local_info: dict[str, Any]) -> None:
    # Given a message of 101 orders with ~120 KB of non-ASCII text (well under SQS's 256 KiB as
    # sent; escaped as \u00fc it would not fit in a dead letter)
    first = key()
    entries = [(first, new_order())] + [(key(), new_order()) for _ in range(100)]
    body = {"orders": [{"idempotency_key": k, "order": o} for k, o in entries], "note": "ü" * 60_000}
    aws("sqs").send_message(QueueUrl=local_info["intake_queues"]["marketplace"],
                            MessageBody=json.dumps(body, ensure_ascii=False))
    # Then none of its orders is captured, and one dead letter says why, holding its first 64 KB
    sqs, url = aws("sqs"), local_info["dead_letter_queues"]["oms-local-intake-marketplace-dlq"]
    letter, deadline = None, time.monotonic() + 30
    while letter is None and time.monotonic() < deadline:
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                     VisibilityTimeout=30).get("Messages", []):
            found = json.loads(m["Body"])
            if found.get("idempotency_key") is None and first in found.get("message", ""):
                letter = found
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            else:  # another test's: leave it for its reader
                sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
    assert letter is not None, "the message was not dead-lettered"
    assert letter["errors"] == [{"field": "orders", "message": "at most 100 orders per message"}]
    assert letter["message_truncated"] is True and len(letter["message"].encode()) <= 64 * 1024
    assert orders_with(http, "marketplace", entries[0][1]["channel_order_id"]) == []
