"""Replay dead-lettered messages into the queue they came from, once their cause is fixed.

    python -m functions.ops.redrive --env dev              # list every DLQ of oms-dev with its depth
    python -m functions.ops.redrive --env dev --all        # redrive them all
    python -m functions.ops.redrive --env local --queue oms-local-order-intake-dlq

Every consumer is idempotent, so a replayed message that already succeeded changes nothing.
A queue's source is the queue whose RedrivePolicy names it. The stream's on-failure queue
holds pointers to stream records, not messages: it is listed but not replayed (see
docs/OPERATIONS.md). ``--env local`` finds the running local stack through ``/_local/info``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.request
from dataclasses import dataclass
from typing import Any

BATCH = 10


@dataclass(frozen=True)
class DeadLetterQueue:
    name: str
    url: str
    depth: int
    source_url: str | None  # None: not fed by a queue (e.g. a stream's on-failure destination)


def dead_letter_queues(sqs: Any, prefix: str) -> list[DeadLetterQueue]:
    urls = sqs.list_queues(QueueNamePrefix=prefix).get("QueueUrls", [])
    attrs = {u: sqs.get_queue_attributes(QueueUrl=u, AttributeNames=["All"])["Attributes"] for u in urls}
    source_of = {json.loads(a["RedrivePolicy"])["deadLetterTargetArn"]: u for u, a in attrs.items()
                 if "RedrivePolicy" in a}
    return [DeadLetterQueue(name=u.rsplit("/", 1)[-1], url=u, depth=int(a.get("ApproximateNumberOfMessages", 0)),
                            source_url=source_of.get(a["QueueArn"]))
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
            raise RuntimeError(f"{len(messages) - len(done)} messages could not be sent back; they stay in {dlq.name}")


def _local_environment(port: str) -> None:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_local/info", timeout=5) as response:
        info = json.loads(response.read())
    os.environ.update(AWS_ENDPOINT_URL=info["aws_endpoint_url"], AWS_DEFAULT_REGION=info["region"])
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m functions.ops.redrive", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", required=True, help="local, dev, staging or prod")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--all", action="store_true", help="redrive every queue-fed DLQ")
    target.add_argument("--queue", help="redrive this DLQ only")
    args = parser.parse_args(argv)
    if args.env == "local":
        _local_environment(os.environ.get("OMS_PORT", "8080"))
    import boto3

    sqs = boto3.client("sqs")
    queues = dead_letter_queues(sqs, f"oms-{args.env}-")
    chosen = [q for q in queues if args.all or q.name == args.queue]
    if args.queue and not chosen:
        print(f"no dead-letter queue {args.queue}", file=sys.stderr)
        return 1
    for q in queues:
        note = "" if q.source_url else "  (stream failure records: see docs/OPERATIONS.md)"
        print(f"{q.name}: {q.depth} messages{note}")
    for q in chosen:
        if q.source_url is None:
            continue
        print(f"{q.name}: redrove {redrive(sqs, q)} messages to {q.source_url.rsplit('/', 1)[-1]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
