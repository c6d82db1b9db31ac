"""The operator's `oms` command line against a running local stack, as an operator runs it:
the installed console script in a subprocess, found through OMS_PORT."""

from __future__ import annotations

import datetime
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from localcloud.launcher import ROOT, free_port
from tests.e2e.orders import key
from tests.e2e.test_allocation import order_for, settled
from tests.e2e.test_capture_api import post_order
from tests.e2e.test_inventory_api import sku
from tests.e2e.test_notices import cancel, outbox

KEY = re.compile(r"oms_[A-Za-z0-9_-]{43}")
SCRIPT = Path(sys.executable).with_name("oms")


def oms(*args: str, port: int | str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    command = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "oms"]
    env = {**os.environ, "OMS_PORT": str(port), "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run([*command, *args], cwd=ROOT.parent, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


def port_of(stack: str) -> int:
    return int(urlsplit(stack).port or 0)


def issued_key(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    keys = KEY.findall(result.stdout)
    assert len(keys) == 1, result.stdout
    return keys[0]


def orders_status(http: httpx.Client, key: str) -> int:
    return http.get("/orders", headers={"x-api-key": key}).status_code


def test_help_lists_the_commands() -> None:
    # When an operator asks oms what it can do
    result = oms("--help", port=free_port(), timeout=30)
    # Then it names the key and redrive commands
    assert result.returncode == 0, result.stderr
    assert "keys" in result.stdout and "redrive" in result.stdout


def test_issued_key_works_and_rotation_without_grace_retires_the_old_one(stack: str, http: httpx.Client) -> None:
    # Given a new webshop whose key the operator issued
    old = issued_key(oms("keys", "issue", "--role", "channel", "--principal", "e2e-shop", port=port_of(stack)))
    assert orders_status(http, old) == 200
    # When the key is rotated with no grace (say it leaked)
    rotated = oms("keys", "rotate", "--principal", "e2e-shop", "--grace", "0", port=port_of(stack))
    new = issued_key(rotated)
    # Then the new key works, the old one is refused at once, and the operator was told so
    assert new != old
    assert orders_status(http, new) == 200
    refused = http.get("/orders", headers={"x-api-key": old})
    assert refused.status_code == 403 and refused.headers["Content-Type"] == "application/problem+json"
    assert "disabled now" in rotated.stderr


def test_rotation_with_grace_keeps_the_old_key_working_and_says_until_when(stack: str, http: httpx.Client) -> None:
    # Given a marketplace with a key in use
    old = issued_key(oms("keys", "issue", "--role", "channel", "--principal", "e2e-market", port=port_of(stack)))
    # When its key is rotated with the default grace of 24 hours
    rotated = oms("keys", "rotate", "--principal", "e2e-market", port=port_of(stack))
    new = issued_key(rotated)
    # Then both keys work for now, and the operator learns when the old one stops
    assert orders_status(http, old) == 200 and orders_status(http, new) == 200
    assert "stops working at" in rotated.stderr


def test_listing_shows_the_principal_but_never_a_key_value(stack: str) -> None:
    # Given keys issued to a shop
    first = issued_key(oms("keys", "issue", "--role", "channel", "--principal", "e2e-lister", port=port_of(stack)))
    second = issued_key(oms("keys", "issue", "--role", "channel", "--principal", "e2e-lister", port=port_of(stack)))
    # When the operator lists the keys
    listed = oms("keys", "list", port=port_of(stack))
    # Then the shop and the seeded webshop are there, with no key value anywhere in the output
    assert listed.returncode == 0, listed.stderr
    assert "e2e-lister" in listed.stdout and "webshop" in listed.stdout
    assert listed.stdout.count("e2e-lister") >= 2
    assert first not in listed.stdout + listed.stderr and second not in listed.stdout + listed.stderr
    assert not KEY.search(listed.stdout) and "local-webshop-key" not in listed.stdout


def test_revoked_key_gets_403(stack: str, http: httpx.Client) -> None:
    # Given an agent's key that works
    key = issued_key(oms("keys", "issue", "--role", "agent", "--principal", "e2e-agent", port=port_of(stack)))
    assert orders_status(http, key) == 200
    # When the operator revokes it
    revoked = oms("keys", "revoke", key, port=port_of(stack))
    # Then it is refused from then on
    assert revoked.returncode == 0, revoked.stderr
    assert orders_status(http, key) == 403


def test_redrive_lists_the_dead_letter_queues(stack: str) -> None:
    # When the operator redrives the local stack's dead-letter queues
    result = oms("redrive", port=port_of(stack))
    # Then every DLQ is listed with its depth and the intake queue's is replayed to its source
    assert result.returncode == 0, result.stderr
    for channel in ("webshop", "marketplace"):
        assert re.search(rf"oms-local-intake-{channel}-dlq: \d+ messages", result.stdout)
        assert re.search(rf"redrove \d+ messages to oms-local-intake-{channel}\b", result.stdout)
    assert "oms-local-order-stream-dlq" in result.stdout


NOTICE_DLQ = "oms-local-notice-stream-dlq"
NOTIFY_STREAM = "oms-local-notify-stream"


def queue_depth(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def wait_for_depth(sqs: Any, url: str, depth: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while queue_depth(sqs, url) < depth:
        assert time.monotonic() < deadline, f"no dead letter arrived in {url} within {timeout} s"
        time.sleep(0.5)


@pytest.mark.timeout(240)
def test_a_dead_lettered_stream_batch_is_replayed_to_its_consumer_and_an_expired_one_kept(
        stack: str, http: httpx.Client, aws: Any) -> None:
    sqs, lambda_ = aws("sqs"), aws("lambda")
    dlq = sqs.get_queue_url(QueueName=NOTICE_DLQ)["QueueUrl"]
    assert queue_depth(sqs, dlq) == 0
    # Given a backordered order whose customer was told so
    order = post_order(http, order_for([{"sku": sku(), "quantity": 1, "unit_price": "5.00"}]), key()).json()
    assert settled(http, order["order_id"])["status"] == "BACKORDERED"
    outbox(http, order["order_id"], emails=1)
    # And a bad deploy of the notify stream consumer (its handler does not import) while the order is cancelled
    handler = lambda_.get_function_configuration(FunctionName=NOTIFY_STREAM)["Handler"]
    lambda_.update_function_configuration(FunctionName=NOTIFY_STREAM, Handler="functions.notify.handlers.gone.x")
    try:
        cancel(http, order["order_id"])
        wait_for_depth(sqs, dlq, 1)  # its retries exhausted, the mapping sent the pointer to the DLQ
    finally:
        lambda_.update_function_configuration(FunctionName=NOTIFY_STREAM, Handler=handler)
    assert [m["kind"] for m in outbox(http, order["order_id"], emails=2, timeout=1)["emails"]] == ["order_backordered"]
    (letter,) = sqs.receive_message(QueueUrl=dlq, VisibilityTimeout=0)["Messages"]
    failure = json.loads(letter["Body"])
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["DDBStreamBatchInfo"]["batchSize"] == 1
    # And a pointer from two days ago (its records are past the stream's retention)
    aged = {**failure["DDBStreamBatchInfo"], "approximateArrivalOfFirstRecord":
            (datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%S.000Z")}
    sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps({**failure, "DDBStreamBatchInfo": aged}))
    try:
        # When the operator redrives the notice stream's DLQ once the fix is deployed
        result = oms("redrive", "--queue", NOTICE_DLQ, port=port_of(stack))
        # Then the cancellation notice is sent (once), the replayed pointer is gone, and the aged one is
        # listed with what it pointed at and left in the queue for the reconciler
        assert result.returncode == 0, result.stderr
        assert f"{NOTICE_DLQ}: replayed 1 stream batches (1 records) to {NOTIFY_STREAM}; 1 kept" in result.stdout
        assert re.search(r"kept: 1 records of table \S+, shard \S+, sequence numbers \d+\.\.\d+, first "
                         r"written .*: older than the stream's 24 h retention", result.stdout), result.stdout
        assert "stay in oms-local-notice-stream-dlq for the reconciler" in result.stdout
        box = outbox(http, order["order_id"], emails=2)
        assert sorted(m["kind"] for m in box["emails"]) == ["order_backordered", "order_cancelled"]
        assert queue_depth(sqs, dlq) == 1
        # and a second redrive changes nothing but listing it again
        again = oms("redrive", "--queue", NOTICE_DLQ, port=port_of(stack))
        assert "replayed 0 stream batches (0 records)" in again.stdout and "24 h retention" in again.stdout
        assert len(outbox(http, order["order_id"], emails=3, timeout=1)["emails"]) == 2
    finally:
        while messages := sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10).get("Messages", []):
            for message in messages:
                sqs.delete_message(QueueUrl=dlq, ReceiptHandle=message["ReceiptHandle"])


def test_no_local_stack_is_one_red_line_saying_make_up_not_a_traceback() -> None:
    # Given no local stack on the port
    # When the operator lists keys
    result = oms("keys", "list", port=free_port(), timeout=30)
    # Then oms fails with a short message telling how to start one
    assert result.returncode == 1
    assert "make up" in result.stderr and "Traceback" not in result.stderr + result.stdout
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("grace", ["soon", "5x", "1h-"])
def test_a_grace_oms_cannot_read_is_refused_before_anything_changes(grace: str) -> None:
    # Given no stack at all: the grace is read before oms talks to anything
    # When the operator mistypes the grace period
    result = oms("keys", "rotate", "--principal", "e2e-shop", "--grace", grace, port=free_port(), timeout=30)
    # Then it is a usage error naming the option
    assert result.returncode == 2 and "--grace" in result.stderr
