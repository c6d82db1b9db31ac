"""State machines: the inlined ASL is the file, substitutions resolve, Express with logging."""

from __future__ import annotations

import json
import re

import pytest
from cfn_template import function_by_handler, only, resources

from infra.config import STATEMACHINES_DIR

pytestmark = pytest.mark.infra

ASL_FILE = STATEMACHINES_DIR / "order_fulfillment.asl.json"


def test_order_fulfillment_machine(env_template):
    env, template = env_template
    _, machine = only(template, "AWS::StepFunctions::StateMachine")
    properties = machine["Properties"]
    assert properties["StateMachineName"] == f"oms-{env}-order-fulfillment"
    assert properties["StateMachineType"] == "EXPRESS"
    assert properties["TracingConfiguration"] == {"Enabled": True}
    logging = properties["LoggingConfiguration"]
    assert logging["Level"] == "ERROR"
    assert logging["IncludeExecutionData"] is False


TASKS = {  # substitution -> the handler of the function it names
    "AcceptOrderFunctionArn": "functions.capture.handlers.accept_order.lambda_handler",
    "PlanFunctionArn": "functions.route.handlers.plan.lambda_handler",
    "ReserveFunctionArn": "functions.allocate.handlers.reserve.lambda_handler",
    "BackorderFunctionArn": "functions.allocate.handlers.backorder.lambda_handler",
    "ReleaseFunctionArn": "functions.route.handlers.release.lambda_handler",
    "NotifyFunctionArn": "functions.notify.handlers.order_notice.lambda_handler",
}


def test_inlined_definition_is_the_file_and_every_substitution_resolves(env_template):
    _, template = env_template
    _, machine = only(template, "AWS::StepFunctions::StateMachine")
    properties = machine["Properties"]
    file_text = ASL_FILE.read_text()
    assert json.loads(properties["DefinitionString"]) == json.loads(file_text)

    assert set(re.findall(r"\$\{(\w+)\}", file_text)) == set(properties["DefinitionSubstitutions"]) == set(TASKS)
    assert properties["DefinitionSubstitutions"] == {
        name: {"Fn::GetAtt": [function_by_handler(template, handler)[0], "Arn"]} for name, handler in TASKS.items()}
    # After substitution the definition is still valid JSON naming the functions.
    resolved = properties["DefinitionString"]
    for name in TASKS:
        resolved = resolved.replace("${" + name + "}", f"arn:aws:lambda:eu-central-1:123456789012:function:{name}")
    states = json.loads(resolved)["States"]
    assert states["Plan"]["Parameters"]["FunctionName"].endswith(":function:PlanFunctionArn")


def test_output_and_environment_name_the_machine_by_its_fixed_name(env_template):
    env, template = env_template
    arn = template["Outputs"]["OrderWorkflowArn"]["Value"]
    assert arn["Fn::Sub"].endswith(f":stateMachine:oms-{env}-order-fulfillment")
    functions = resources(template, "AWS::Lambda::Function").values()
    assert all(f["Properties"]["Environment"]["Variables"]["ORDER_WORKFLOW_ARN"] == arn for f in functions)
