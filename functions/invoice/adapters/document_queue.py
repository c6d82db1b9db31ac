"""The queue of documents to render (``oms-<env>-documents``; its DLQ after five failed
receives): one message per new invoice or credit note, sent by the invoice stream, ten to a
SendMessageBatch."""

from __future__ import annotations

import json
from typing import Any

from functions.core.adapters.aws import client
from functions.core.errors import TransientError

#: SQS's largest batch.
BATCH = 10


class DocumentQueue:
    def __init__(self, queue_url: str, sqs_client: Any = None) -> None:
        self.queue_url = queue_url
        self._client = sqs_client

    def send(self, documents: list[tuple[str, str]]) -> None:
        sqs = self._client or client("sqs")
        for start in range(0, len(documents), BATCH):
            chunk = documents[start:start + BATCH]
            answer = sqs.send_message_batch(QueueUrl=self.queue_url, Entries=[
                {"Id": str(n), "MessageBody": json.dumps({"order_id": order_id, "number": number})}
                for n, (order_id, number) in enumerate(chunk)])
            if answer.get("Failed"):  # the stream batch is retried: rendering is idempotent
                raise TransientError(f"{len(answer['Failed'])} documents not queued for rendering: "
                                     f"{answer['Failed'][0].get('Code')}")
