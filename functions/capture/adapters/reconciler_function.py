"""The ``Resumer`` port: the reconciler function, invoked synchronously with ``{"order_id"}``
(``functions/reconcile/handlers/run.py``), so an operator's resume runs the one decision the
schedule runs. Only the orders API's resume route loads this module."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from functions.capture.ports import ResumeReport
from functions.core.adapters.aws import client
from functions.core.errors import TransientError


class ReconcilerFunction:
    def __init__(self, function_name: str, lambda_client: Any = None) -> None:
        self.function_name = function_name
        self._client = lambda_client

    def resume(self, order_id: str) -> ResumeReport | None:
        try:
            reply = (self._client or client("lambda")).invoke(
                FunctionName=self.function_name, InvocationType="RequestResponse",
                Payload=json.dumps({"order_id": order_id}).encode())
        except (ClientError, BotoCoreError) as exc:
            raise TransientError(f"the reconciler could not be asked to resume {order_id}: {exc}") from exc
        body = json.loads(reply["Payload"].read() or b"null")
        if reply.get("FunctionError") or not isinstance(body, dict):
            raise TransientError(f"the reconciler failed resuming {order_id}: {str(body)[:300]}")
        if not body.get("found"):
            return None
        return ResumeReport(order_id=str(body["order_id"]), status=str(body["status"]), final=bool(body["final"]),
                            steps=tuple(body.get("steps") or ()), waiting=body.get("waiting"))
