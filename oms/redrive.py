"""Replay dead-lettered messages into the queue they came from, once their cause is fixed.

Every consumer is idempotent, so a replayed message that already succeeded changes nothing.
A queue's source is the queue whose RedrivePolicy names it. A stream consumer's on-failure queue
holds pointers to stream records, not messages: those are replayed by ``oms.streams``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from oms.failures import OmsError

BATCH = 10


@dataclass(frozen=True)
class DeadLetterQueue:
    name: str
    url: str
    depth: int
    source_url: str | None  # None: not fed by a queue (e.g. a stream's on-failure destination)
    arn: str = ""

    @property
    def source_name(self) -> str | None:
        return self.source_url.rsplit("/", 1)[-1] if self.source_url else None


def dead_letter_queues(sqs: Any, prefix: str) -> list[DeadLetterQueue]:
    urls = sqs.list_queues(QueueNamePrefix=prefix).get("QueueUrls", [])
    attrs = {u: sqs.get_queue_attributes(QueueUrl=u, AttributeNames=["All"])["Attributes"] for u in urls}
    source_of = {json.loads(a["RedrivePolicy"])["deadLetterTargetArn"]: u for u, a in attrs.items()
                 if "RedrivePolicy" in a}
    return [DeadLetterQueue(name=u.rsplit("/", 1)[-1], url=u, depth=int(a.get("ApproximateNumberOfMessages", 0)),
                            source_url=source_of.get(a["QueueArn"]), arn=a["QueueArn"])
            for u, a in sorted(attrs.items()) if u.endswith("-dlq")]


def redrive(sqs: Any, dlq: DeadLetterQueue) -> int:
    """Move every message of ``dlq`` back to its source (send first, then delete: at least once)."""
    if dlq.source_url is None:
        raise ValueError(f"{dlq.name} is not fed by a queue; its records cannot be replayed as messages")
    moved = 0
    while True:
        messages = sqs.receive_message(QueueUrl=dlq.url, MaxNumberOfMessages=BATCH, WaitTimeSeconds=0,
                                       VisibilityTimeout=60, MessageAttributeNames=["All"]).get("Messages", [])
        if not messages:
            return moved
        entries = [{"Id": str(i), "MessageBody": m["Body"],
                    **({"MessageAttributes": m["MessageAttributes"]} if m.get("MessageAttributes") else {})}
                   for i, m in enumerate(messages)]
        sent = sqs.send_message_batch(QueueUrl=dlq.source_url, Entries=entries)
        ok = {e["Id"] for e in sent.get("Successful", [])}
        done = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages) if str(i) in ok]
        if done:
            sqs.delete_message_batch(QueueUrl=dlq.url, Entries=done)
        moved += len(done)
        if len(done) < len(messages):
            raise OmsError(f"{len(messages) - len(done)} messages could not be sent back; they stay in {dlq.name}")
