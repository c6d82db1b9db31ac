"""The poller loop shared by SQS and stream mappings (localcloud.patches.event_source_pollers)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

import localcloud
from localcloud.patches import event_source_pollers
from localcloud.patches.event_source_pollers import Poller
from localcloud.patches.sqs_event_source import SqsPoller
from tests.localcloud.lambdas import probe
from tests.localcloud.support import client, create_function, create_queue, create_table

IDLE_WAIT = 0.02  # shortened so a few idle waits fit in the observation window
WINDOW = 0.3  # a busy-spinning loop runs thousands of times in this; an idle-waiting one ~15


def _poller(uuid: str) -> Poller:
    return next(p for p in event_source_pollers.active() if p.esm.uuid == uuid)


def _source_with_work(kind: str) -> tuple[str, dict[str, Any]]:
    """A queue or stream that holds one undelivered message/record: (ARN, mapping arguments)."""
    if kind == "sqs":
        url, arn = create_queue("work")
        client("sqs").send_message(QueueUrl=url, MessageBody="m")
        return arn, {}
    arn = create_table("work")
    client("dynamodb").put_item(TableName="work", Item={"PK": {"S": "A"}, "SK": {"S": "B"}})
    return arn, {"StartingPosition": "TRIM_HORIZON"}


@pytest.mark.parametrize("kind", ["sqs", "dynamodb"])
def test_disabled_mapping_with_pending_work_sleeps_instead_of_spinning(
    aws: None, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    # Given a disabled mapping on a source that has work waiting
    monkeypatch.setattr(event_source_pollers, "_IDLE_WAIT", IDLE_WAIT)
    arn, extra = _source_with_work(kind)
    create_function("idle")
    uuid = client("lambda").create_event_source_mapping(
        EventSourceArn=arn, FunctionName="idle", Enabled=False, **extra
    )["UUID"]
    poller = _poller(uuid)
    loops = []
    alive = poller.alive
    monkeypatch.setattr(poller, "alive", lambda: loops.append(1) or alive())
    # When its loop runs for a while
    time.sleep(WINDOW)
    # Then it went round once per idle wait (before the fix wait_for_work returned at once
    # because the source had work, and the thread spun at 100% CPU), and delivered nothing
    assert len(loops) < 50, len(loops)
    assert probe.calls("idle") == []


def test_failing_poll_waits_between_attempts_logs_once_and_recovers(
    aws: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a queue with a message and a poller whose poll() raises until told otherwise
    monkeypatch.setattr(event_source_pollers, "_IDLE_WAIT", IDLE_WAIT)
    arn, _ = _source_with_work("sqs")
    create_function("stuck")
    broken = threading.Event()
    broken.set()
    attempts = []
    original = SqsPoller.poll

    def poll(self: SqsPoller) -> bool:
        if self.esm.function_arn.endswith(":function:stuck") and broken.is_set():
            attempts.append(1)
            raise RuntimeError("queue unreadable")
        return original(self)

    monkeypatch.setattr(SqsPoller, "poll", poll)
    caplog.set_level(logging.ERROR, logger="localcloud.esm")
    # When the mapping runs for a while
    client("lambda").create_event_source_mapping(EventSourceArn=arn, FunctionName="stuck")
    time.sleep(WINDOW)
    # Then it retried once per idle wait (not in a tight loop) and logged the error once
    assert 1 <= len(attempts) < 50, len(attempts)
    failures = [r for r in caplog.records if "poll failed" in r.getMessage()]
    assert len(failures) == 1 and "queue unreadable" in failures[0].getMessage()
    # and once poll() works again the message is delivered
    broken.clear()
    localcloud.settle()
    assert [e["Records"][0]["body"] for e in probe.calls("stuck")] == ["m"]


def _write(kind: str) -> Callable[[], Any]:
    if kind == "sqs":
        sqs, url = client("sqs"), client("sqs").get_queue_url(QueueName="race")["QueueUrl"]
        return lambda: sqs.send_message(QueueUrl=url, MessageBody="m")
    ddb = client("dynamodb")
    return lambda: ddb.put_item(TableName="race", Item={"PK": {"S": "A"}, "SK": {"S": "B"}})


@pytest.mark.parametrize("kind", ["sqs", "dynamodb"])
def test_a_write_while_the_mapping_is_created_is_delivered_by_the_poller(
    aws: None, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    # Given a source, and a write that lands right after moto registered the mapping on it
    # (where moto itself would deliver inside the write) and before the poller detached it
    extra: dict[str, Any] = {}
    if kind == "sqs":
        _, arn = create_queue("race")
    else:
        arn, extra = create_table("race"), {"StartingPosition": "TRIM_HORIZON"}
    create_function("racer")
    handled_on: list[str] = []
    probe.BEHAVIOURS["racer"] = lambda event, context: handled_on.append(threading.current_thread().name)
    write = _write(kind)
    writers: list[threading.Thread] = []
    register = event_source_pollers._ORIGINAL_CREATE

    def register_then_write(backend: Any, spec: dict[str, Any]) -> Any:
        esm = register(backend, spec)
        writers.append(threading.Thread(target=write, name="writer"))
        writers[0].start()
        writers[0].join(timeout=0.3)  # the write is kept out until the mapping is detached
        return esm

    monkeypatch.setattr(event_source_pollers, "_ORIGINAL_CREATE", register_then_write)
    # When the mapping is created
    client("lambda").create_event_source_mapping(EventSourceArn=arn, FunctionName="racer", **extra)
    writers[0].join(timeout=10)
    localcloud.settle()
    # Then the record was delivered once, by the poller, not by moto inside the writer's call
    assert len(handled_on) == 1 and handled_on[0] != "writer", handled_on
