"""State machines: the inlined ASL is the file, substitutions resolve, Express with logging."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from cfn_template import Template, function_by_handler, resources

from infra.config import STATEMACHINES_DIR

pytestmark = pytest.mark.infra

WORKFLOWS = ("order_fulfillment", "shipment_invoicing", "return_processing")

TASKS = {  # workflow -> substitution -> the handler of the function it names
    "order_fulfillment": {
        "PlanFunctionArn": "functions.route.handlers.plan.lambda_handler",
        "ReserveFunctionArn": "functions.allocate.handlers.reserve.lambda_handler",
        "BackorderFunctionArn": "functions.allocate.handlers.backorder.lambda_handler",
        "NotifyFunctionArn": "functions.notify.handlers.order_notice.lambda_handler",
    },
    "shipment_invoicing": {
        "InvoiceShipmentFunctionArn": "functions.invoice.handlers.invoice_shipment.lambda_handler",
        "FlagForFinanceFunctionArn": "functions.invoice.handlers.flag.lambda_handler",
    },
    "return_processing": {
        "RefundReceiptFunctionArn": "functions.invoice.handlers.refund_receipt.lambda_handler",
        "FlagRefundForFinanceFunctionArn": "functions.invoice.handlers.refund_flag.lambda_handler",
        "CreateReplacementFunctionArn": "functions.capture.handlers.exchange.lambda_handler",
    },
}
# A state of each workflow whose FunctionName is checked after substitution.
SAMPLE_TASK = {"order_fulfillment": ("Plan", "PlanFunctionArn"),
               "shipment_invoicing": ("InvoiceShipment", "InvoiceShipmentFunctionArn"),
               "return_processing": ("RefundReceipt", "RefundReceiptFunctionArn")}


def machine_name(env: str, workflow: str) -> str:
    return f"oms-{env}-{workflow.replace('_', '-')}"


def machine_of(template: Template, env: str, workflow: str) -> tuple[str, dict[str, Any]]:
    name = machine_name(env, workflow)
    (found,) = [(logical_id, machine) for logical_id, machine in
                resources(template, "AWS::StepFunctions::StateMachine").items()
                if machine["Properties"]["StateMachineName"] == name]
    return found


def test_the_machines_are_exactly_the_workflows(env_template):
    env, template = env_template
    names = {m["Properties"]["StateMachineName"]
             for m in resources(template, "AWS::StepFunctions::StateMachine").values()}
    assert names == {machine_name(env, workflow) for workflow in WORKFLOWS}


def _assert_express_traced_and_logs_errors_only(template: Template, env: str, workflow: str) -> None:
    _, machine = machine_of(template, env, workflow)
    properties = machine["Properties"]
    assert properties["StateMachineName"] == machine_name(env, workflow)
    assert properties["StateMachineType"] == "EXPRESS"
    assert properties["TracingConfiguration"] == {"Enabled": True}
    logging = properties["LoggingConfiguration"]
    assert logging["Level"] == "ERROR"
    assert logging["IncludeExecutionData"] is False
    (destination,) = logging["Destinations"]
    log_group_id = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
    log_group = template["Resources"][log_group_id]
    assert log_group["Properties"]["LogGroupName"] == f"/aws/vendedlogs/states/{machine_name(env, workflow)}"


def test_order_fulfillment_machine(env_template):
    env, template = env_template
    _assert_express_traced_and_logs_errors_only(template, env, "order_fulfillment")


def test_shipment_invoicing_machine(env_template):
    env, template = env_template
    _assert_express_traced_and_logs_errors_only(template, env, "shipment_invoicing")


@pytest.mark.parametrize("workflow", WORKFLOWS)
def test_inlined_definition_is_the_file_and_every_substitution_resolves(env_template, workflow):
    env, template = env_template
    _, machine = machine_of(template, env, workflow)
    properties = machine["Properties"]
    tasks = TASKS[workflow]
    file_text = (STATEMACHINES_DIR / f"{workflow}.asl.json").read_text()
    assert json.loads(properties["DefinitionString"]) == json.loads(file_text)

    assert set(re.findall(r"\$\{(\w+)\}", file_text)) == set(properties["DefinitionSubstitutions"]) == set(tasks)
    assert properties["DefinitionSubstitutions"] == {
        name: {"Fn::GetAtt": [function_by_handler(template, handler)[0], "Arn"]} for name, handler in tasks.items()}
    # After substitution the definition is still valid JSON naming the functions.
    resolved = properties["DefinitionString"]
    for name in tasks:
        resolved = resolved.replace("${" + name + "}", f"arn:aws:lambda:eu-central-1:123456789012:function:{name}")
    states = json.loads(resolved)["States"]
    state, substitution = SAMPLE_TASK[workflow]
    assert states[state]["Parameters"]["FunctionName"].endswith(f":function:{substitution}")


def test_shipment_invoicing_tasks_retry_transient_errors_and_fall_back_to_finance(env_template):
    env, template = env_template
    _, machine = machine_of(template, env, "shipment_invoicing")
    definition = json.loads(machine["Properties"]["DefinitionString"])
    states = definition["States"]
    tasks = {name: state for name, state in states.items() if state["Type"] == "Task"}
    assert set(tasks) == {"InvoiceShipment", "FlagForFinance"}
    assert definition["StartAt"] == "InvoiceShipment"
    for name, task in tasks.items():
        assert task["Resource"] == "arn:aws:states:::lambda:invoke", name
        transient = [r for r in task.get("Retry", []) if "TransientError" in r["ErrorEquals"]]
        assert len(transient) == 1, name
        assert transient[0].get("JitterStrategy") == "FULL", name
        if name == "FlagForFinance":
            assert "Catch" not in task  # the compensation itself: nothing left to fall back to
        else:
            catch = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "FlagForFinance"}]
            assert task.get("Catch") == catch, name
    assert states[tasks["InvoiceShipment"]["Next"]]["Type"] == "Succeed"
    assert states[tasks["FlagForFinance"]["Next"]]["Type"] == "Fail"


def test_output_and_environment_name_the_machine_by_its_fixed_name(env_template):
    env, template = env_template
    arn = template["Outputs"]["OrderWorkflowArn"]["Value"]
    assert arn["Fn::Sub"].endswith(f":stateMachine:oms-{env}-order-fulfillment")
    functions = resources(template, "AWS::Lambda::Function").values()
    assert all(f["Properties"]["Environment"]["Variables"]["ORDER_WORKFLOW_ARN"] == arn for f in functions)


def test_environment_names_the_invoicing_machine_by_its_fixed_name(env_template):
    # No output: only the invoice stream consumer starts it, from INVOICE_WORKFLOW_ARN.
    env, template = env_template
    _, machine = machine_of(template, env, "shipment_invoicing")
    name = machine["Properties"]["StateMachineName"]
    arn = {"Fn::Sub": f"arn:${{AWS::Partition}}:states:${{AWS::Region}}:${{AWS::AccountId}}:stateMachine:{name}"}
    functions = resources(template, "AWS::Lambda::Function").values()
    assert all(f["Properties"]["Environment"]["Variables"]["INVOICE_WORKFLOW_ARN"] == arn for f in functions)


def _next_states(state: dict[str, Any]) -> set[str]:
    return {state.get("Next"), state.get("Default"), *(c.get("Next") for c in state.get("Choices", [])),
            *(c.get("Next") for c in state.get("Catch", []))} - {None}


def test_lost_races_back_off_and_fail_but_never_backorder_an_order_whose_stock_exists():
    """Given Reserve loses its race (StockMoved) every time, when the workflow runs out of
    plans, then it has waited with growing backoff and fails at RacesLost (the order keeps its
    status for the reconciler): Backorder is reached only from Plan finding no plan."""
    definition = json.loads((STATEMACHINES_DIR / "order_fulfillment.asl.json").read_text())
    states = definition["States"]
    (moved,) = [c for c in states["Reserve"]["Catch"] if c["ErrorEquals"] == ["StockMoved"]]
    # every state reachable from a lost race before it plans again
    seen, todo = set(), [moved["Next"]]
    while todo:
        name = todo.pop()
        if name in seen or name == "Plan":
            continue
        seen.add(name)
        todo.extend(_next_states(states[name]))
    assert "Backorder" not in seen
    assert {states[s]["Type"] for s in seen} == {"Pass", "Choice", "Wait", "Fail"}
    (failed,) = [s for s in seen if states[s]["Type"] == "Fail"]
    assert states[failed]["Error"] == "RacesLost"
    assert [n for n, s in states.items() if "Backorder" in _next_states(s)] == ["HasPlan"]
    assert states["HasPlan"]["Default"] == "Backorder"
    # the backorder writes what the order waits for: Plan's answer travels to it
    assert states["Backorder"]["Parameters"]["Payload"]["wanted.$"] == "$.plan.wanted"
    assert states["Plan"]["ResultSelector"]["wanted.$"] == "$.Payload.wanted"
