"""Step Functions executions started without a name get one, as on AWS.

moto 5.2.5's executing backend (``StepFunctionsParserBackend.start_execution``) uses the
``name`` argument as is: without one the execution ARN ends in ``:None``, a second start with
the same input silently returns the first execution (name-idempotency on ``None``), and
``ListExecutions`` fails on the missing name. EventBridge rule targets start executions
without a name (``eventbridge_targets``, as on AWS), so a start without one gets a UUID, which
is what AWS generates. (The stream consumer's workflow adapter always passes a name.)
"""

from __future__ import annotations

import uuid
from typing import Any

from moto.stepfunctions.parser.models import StepFunctionsParserBackend

_ORIGINAL = StepFunctionsParserBackend.start_execution


def _start_execution(
    self: StepFunctionsParserBackend,
    state_machine_arn: str,
    name: str | None = None,
    execution_input: str | None = None,
    trace_header: str | None = None,
) -> Any:
    return _ORIGINAL(self, state_machine_arn, name or str(uuid.uuid4()), execution_input, trace_header)


def install() -> None:
    StepFunctionsParserBackend.start_execution = _start_execution  # type: ignore[method-assign]
