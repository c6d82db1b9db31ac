"""Asking notify to send a notice again: an asynchronous invocation of its task function with
the task's own input (``functions/notify/handlers/order_notice.py``); Lambda retries a failed
asynchronous invocation twice. Whatever happens, notify's claim decides what is sent."""

from __future__ import annotations

import json
from typing import Any

from functions.core.adapters.aws import client


class NotifyFunction:
    def __init__(self, function_name: str, lambda_client: Any = None) -> None:
        self.function_name = function_name
        self._client = lambda_client

    def send(self, order_id: str, kind: str, ref: str | None) -> None:
        payload: dict[str, Any] = {"order_id": order_id, "kind": kind}
        if ref:
            payload["ref"] = ref
        (self._client or client("lambda")).invoke(FunctionName=self.function_name, InvocationType="Event",
                                                  Payload=json.dumps(payload).encode())
