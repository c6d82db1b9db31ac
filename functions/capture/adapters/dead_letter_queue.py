"""The feeds' dead-letter queues on SQS, behind ``DeadLetterQueue`` (ports.py)."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from functions.core.adapters.aws import client
from functions.core.errors import TransientError

#: SendMessageBatch takes at most 10 messages and 256 KiB in all.
BATCH_ENTRIES = 10
BATCH_BYTES = 256 * 1024


class SqsDeadLetterQueue:
    def __init__(self, sqs_client: Any = None) -> None:
        self._client = sqs_client

    def send(self, queue_url: str, bodies: list[dict[str, Any]]) -> None:
        sqs = self._client or client("sqs")
        # As UTF-8, not \\u-escaped: SQS counts the body's UTF-8 bytes, and escaping could take
        # a non-ASCII dead letter (or a batch of them) past the 256 KiB it accepts.
        texts = [json.dumps(b, separators=(",", ":"), ensure_ascii=False, default=str) for b in bodies]
        for batch in _batches(texts):
            try:
                sent = sqs.send_message_batch(QueueUrl=queue_url, Entries=[
                    {"Id": str(i), "MessageBody": text} for i, text in enumerate(batch)])
            except ClientError as exc:
                raise TransientError(f"dead-lettering {len(batch)} orders: {exc}") from exc
            if sent.get("Failed"):
                raise TransientError(f"the DLQ refused {len(sent['Failed'])} of {len(batch)} messages: "
                                     f"{[f.get('Code') for f in sent['Failed']]}")


def _batches(texts: list[str]) -> list[list[str]]:
    batches: list[list[str]] = []
    size = 0
    for text in texts:
        n = len(text.encode("utf-8"))
        if not batches or len(batches[-1]) == BATCH_ENTRIES or size + n > BATCH_BYTES:
            batches.append([])
            size = 0
        batches[-1].append(text)
        size += n
    return batches
