"""Operators replay dead-lettered messages once the cause is fixed (issue 3, `make redrive`)."""

from __future__ import annotations

import json
import uuid

import boto3

from localcloud.server import LocalCloud
from oms.redrive import dead_letter_queues, redrive
from tests.e2e.orders import new_order
from tests.integration.test_capture_flows import drain, feed_message, intake_url, orders_of


def test_dead_lettered_feed_message_is_replayed_and_captured_once(cloud: LocalCloud, outputs: dict[str, str]) -> None:
    sqs = boto3.client("sqs")
    queues = {q.name: q for q in dead_letter_queues(sqs, "oms-local-")}
    intake_dlq = queues["oms-local-intake-webshop-dlq"]
    assert (intake_dlq.source_url or "").rsplit("/", 1)[-1] == intake_url(outputs, "webshop").rsplit("/", 1)[-1]
    assert queues["oms-local-order-stream-dlq"].source_url is None  # stream pointers: replayed from the stream
    # Given a good order that ended in the DLQ (say, while the table was throttled)
    body = new_order()
    drain(sqs, intake_dlq.url)
    message = feed_message(body)
    sqs.send_message(QueueUrl=intake_dlq.url, MessageBody=message)
    sqs.send_message(QueueUrl=intake_dlq.url, MessageBody=message)  # and a duplicate of it
    # When the operator redrives the queue
    moved = redrive(sqs, intake_dlq)
    cloud.settle()
    # Then both messages went back, the order exists once, and the DLQ is empty
    assert moved == 2
    assert len(orders_of(outputs, "webshop", body["channel_order_id"])) == 1
    left = sqs.get_queue_attributes(QueueUrl=intake_dlq.url, AttributeNames=["ApproximateNumberOfMessages"])
    assert left["Attributes"]["ApproximateNumberOfMessages"] == "0"


def test_a_redriven_dead_letter_is_read_as_its_order(cloud: LocalCloud, outputs: dict[str, str]) -> None:
    sqs = boto3.client("sqs")
    intake_dlq = {q.name: q for q in dead_letter_queues(sqs, "oms-local-")}["oms-local-intake-webshop-dlq"]
    drain(sqs, intake_dlq.url)
    # Given an order the feed refused (say, for a rule since fixed): its dead letter, as the DLQ holds it
    body = new_order()
    letter = {"idempotency_key": f"k-{uuid.uuid4()}", "order": body,
              "errors": [{"field": "payment.amount", "message": "was refused by a bug"}]}
    sqs.send_message(QueueUrl=intake_dlq.url, MessageBody=json.dumps(letter))
    # When the operator redrives the queue
    assert redrive(sqs, intake_dlq) == 1
    cloud.settle()
    # Then the order is captured for the queue's channel, and nothing is left in the DLQ
    assert len(orders_of(outputs, "webshop", body["channel_order_id"])) == 1
    left = sqs.get_queue_attributes(QueueUrl=intake_dlq.url, AttributeNames=["ApproximateNumberOfMessages"])
    assert left["Attributes"]["ApproximateNumberOfMessages"] == "0"
