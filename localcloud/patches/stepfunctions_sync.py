"""Step Functions ``StartSyncExecution`` for EXPRESS machines.

moto 5.2.5's server has no route for it (its response class has no ``start_sync_execution``;
the parser's own provider does, but the server never calls it), so a client gets an unknown
action. Here it starts the execution as ``StartExecution`` does (the executing backend, so the
machine's tasks run) and answers when the execution has ended, as AWS does: ``status``
SUCCEEDED, FAILED or TIMED_OUT (an aborted one as FAILED), ``output`` for a success, ``error``
and ``cause`` for a failure. A STANDARD machine is refused, as on AWS. Clients reach it on the
local endpoint with ``inject_host_prefix=False`` (AWS serves it on the ``sync-`` host).
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.stepfunctions.responses import StepFunctionResponse

#: how often the answer looks whether the execution ended (the execution runs on its own thread)
_POLL_S = 0.005
_ENDED = {"SUCCEEDED": "SUCCEEDED", "FAILED": "FAILED", "TIMED_OUT": "TIMED_OUT", "ABORTED": "FAILED"}


def _status(execution: Any) -> str:
    status = getattr(execution, "exec_status", None) or getattr(execution, "status", None)
    return str(getattr(status, "value", status))


def _start_sync_execution(self: StepFunctionResponse) -> str:
    arn = self._get_param("stateMachineArn")
    name = self._get_param("name") or str(uuid.uuid4())
    execution_input = self._get_param("input", if_none="{}")
    backend = self.stepfunction_backend
    machine = backend.describe_state_machine(arn)
    if machine.type != "EXPRESS":  # (moto's ``sm_type`` always says STANDARD)
        raise JsonRESTError("StateMachineTypeNotSupported",
                            "This operation is not supported by this type of state machine")
    execution = backend.start_execution(arn, name, execution_input)
    while _status(execution) == "RUNNING":
        time.sleep(_POLL_S)
    status = _ENDED.get(_status(execution), "FAILED")
    response: dict[str, Any] = {
        "executionArn": execution.execution_arn, "stateMachineArn": arn, "name": name, "status": status,
        "startDate": _epoch(execution.start_date), "stopDate": _epoch(getattr(execution, "stop_date", None)),
        "input": execution_input}
    if status == "SUCCEEDED":
        output = getattr(execution, "output", None)
        response["output"] = output if isinstance(output, str) else json.dumps(output)
    for key in ("error", "cause"):
        value = getattr(execution, key, None)
        if value is not None:
            response[key] = value
    return json.dumps(response)


def _epoch(value: Any) -> float | None:
    if value is None:
        return None
    if hasattr(value, "timestamp"):
        return float(value.timestamp())
    return float(value)


def install() -> None:
    StepFunctionResponse.start_sync_execution = _start_sync_execution  # type: ignore[attr-defined]
