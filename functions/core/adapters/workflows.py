"""Starting a Step Functions execution, behind the ``WorkflowStarter`` ports of the capabilities,
and the order's workflow started again for an order (``core.ports.OrderWorkflow``)."""

from __future__ import annotations

import json
import os
from functools import cache
from typing import Any

from functions.core.ids import order_execution_name
from functions.core.ports import WorkflowRun

from .aws import CONNECT_TIMEOUT_S, client

#: A synchronous run waits for the execution's end: a restock's run of a backordered order
#: (Plan, Reserve, the notice) takes well under a second; 10 s leaves the 15 s function room to
#: record the outcome. One attempt only: a second would be a second execution.
SYNC_READ_TIMEOUT_S = 10


class StepFunctionsStarter:
    def __init__(self, state_machine_arn: str, sfn_client: Any = None, sync_client: Any = None) -> None:
        self.arn = state_machine_arn
        self._client = sfn_client
        self._sync_client = sync_client

    def start(self, name: str, payload: dict[str, Any]) -> str:
        c = self._client or client("stepfunctions")
        result = c.start_execution(stateMachineArn=self.arn, name=name, input=json.dumps(payload))
        return str(result["executionArn"])

    def run(self, name: str, payload: dict[str, Any]) -> WorkflowRun:
        """Run an Express execution to its end (StartSyncExecution)."""
        c = self._sync_client or _sync_client(os.environ.get("AWS_ENDPOINT_URL"), os.environ.get("AWS_DEFAULT_REGION"))
        result = c.start_sync_execution(stateMachineArn=self.arn, name=name, input=json.dumps(payload))
        output = json.loads(result["output"]) if result.get("output") else {}
        return WorkflowRun(name=name, status=str(result["status"]), output=output if isinstance(output, dict) else {},
                           error=result.get("error"))

    # -- the order's workflow (core.ports.OrderWorkflow) -------------------------------------
    def start_order(self, order_id: str) -> str:
        return self.start(order_execution_name(order_id), {"order_id": order_id})

    def run_order(self, order_id: str) -> WorkflowRun:
        return self.run(order_execution_name(order_id), {"order_id": order_id})


@cache
def _sync_client(endpoint_url: str | None, region: str | None) -> Any:
    import boto3
    from botocore.config import Config

    # StartSyncExecution goes to the ``sync-`` host of Step Functions; a local endpoint is one
    # address for every service, which the host prefix would break.
    config = Config(retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=CONNECT_TIMEOUT_S,
                    read_timeout=SYNC_READ_TIMEOUT_S, inject_host_prefix=endpoint_url is None)
    return boto3.client("stepfunctions", config=config, endpoint_url=endpoint_url, region_name=region)
