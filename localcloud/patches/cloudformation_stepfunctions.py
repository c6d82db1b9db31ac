"""CloudFormation ``AWS::StepFunctions::StateMachine`` into the *executing* backend, fully.

moto 5.2.5 creates the stack's state machine in the plain ``stepfunctions_backends`` even when
``execute_state_machine`` is on, so its executions never run (the executing backend does not
know the machine); it also reads only ``DefinitionString``, ignoring ``DefinitionSubstitutions``
(CDK puts every function ARN there: the machine's Lambda tasks would call ``${FnArn}``),
``Definition`` (an object), ``StateMachineType`` (EXPRESS becomes STANDARD), and the logging and
tracing configuration. Here create, update and delete go through
``moto.stepfunctions.responses.get_backend``, which honours ``execute_state_machine``.
"""

from __future__ import annotations

import json
from typing import Any

from moto.stepfunctions.models import StateMachine
from moto.stepfunctions.responses import get_backend


def definition(properties: dict[str, Any]) -> str:
    """The ASL text with ``${name}`` substitutions applied, as CloudFormation does."""
    text = properties.get("DefinitionString") or json.dumps(properties.get("Definition") or {})
    for key, value in (properties.get("DefinitionSubstitutions") or {}).items():
        text = text.replace(f"${{{key}}}", value if isinstance(value, str) else json.dumps(value))
    return text


def _tags(properties: dict[str, Any]) -> list[dict[str, str]]:
    return [{"key": t["Key"], "value": t["Value"]} for t in properties.get("Tags", [])]


def _create(
    cls: type[StateMachine],
    resource_name: str,
    cloudformation_json: dict[str, Any],
    account_id: str,
    region_name: str,
    **kwargs: Any,
) -> StateMachine:
    properties = cloudformation_json["Properties"]
    return get_backend(account_id, region_name).create_state_machine(
        name=properties.get("StateMachineName", resource_name),
        definition=definition(properties),
        roleArn=properties.get("RoleArn", ""),
        tags=_tags(properties),
        loggingConfiguration=properties.get("LoggingConfiguration"),
        tracingConfiguration=properties.get("TracingConfiguration"),
        sm_type=properties.get("StateMachineType", "STANDARD"),
    )


def _update(
    cls: type[StateMachine],
    original_resource: StateMachine,
    new_resource_name: str,
    cloudformation_json: dict[str, Any],
    account_id: str,
    region_name: str,
) -> StateMachine:
    properties = cloudformation_json.get("Properties", {})
    backend = get_backend(account_id, region_name)
    name = properties.get("StateMachineName", original_resource.name)
    if name != original_resource.name or properties.get("StateMachineType", "STANDARD") != original_resource.sm_type:
        backend.delete_state_machine(original_resource.arn)  # replacement
        return _create(cls, name, cloudformation_json, account_id, region_name)
    return backend.update_state_machine(
        original_resource.arn, definition=definition(properties), role_arn=properties.get("RoleArn")
    )


def _delete(
    cls: type[StateMachine],
    resource_name: str,
    cloudformation_json: dict[str, Any],
    account_id: str,
    region_name: str,
) -> None:
    get_backend(account_id, region_name).delete_state_machine(resource_name)


def install() -> None:
    StateMachine.create_from_cloudformation_json = classmethod(_create)  # type: ignore[assignment,method-assign]
    StateMachine.update_from_cloudformation_json = classmethod(_update)  # type: ignore[assignment,method-assign]
    StateMachine.delete_from_cloudformation_json = classmethod(_delete)  # type: ignore[assignment,method-assign]
