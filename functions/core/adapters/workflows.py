"""Starting a Step Functions execution, behind the ``WorkflowStarter`` ports of the capabilities."""

from __future__ import annotations

import json
from typing import Any

from .aws import client


class StepFunctionsStarter:
    def __init__(self, state_machine_arn: str, sfn_client: Any = None) -> None:
        self.arn = state_machine_arn
        self._client = sfn_client

    def start(self, name: str, payload: dict[str, Any]) -> str:
        c = self._client or client("stepfunctions")
        result = c.start_execution(stateMachineArn=self.arn, name=name, input=json.dumps(payload))
        return str(result["executionArn"])
