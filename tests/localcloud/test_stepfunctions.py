"""Step Functions fixes: execution names, scaled Retry/Wait time, CloudFormation state machines."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

import localcloud
from tests.localcloud.lambdas import probe
from tests.localcloud.support import ROLE, client, create_function


def _wait(arn: str) -> dict[str, Any]:
    localcloud.settle()
    return client("stepfunctions").describe_execution(executionArn=arn)


def test_executions_without_a_name_get_one_and_express_executions_are_listed(aws: None) -> None:
    # Given an EXPRESS machine
    sfn = client("stepfunctions")
    machine = sfn.create_state_machine(
        name="m",
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
        roleArn=ROLE,
        type="EXPRESS",
    )["stateMachineArn"]
    # When two executions start with the same input and no name
    first = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    second = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    # Then they are two executions (moto alone: both ':None', the second a silent duplicate)
    assert first != second and not first.endswith(":None")
    assert _wait(second)["status"] == "SUCCEEDED"
    assert {e["executionArn"] for e in sfn.list_executions(stateMachineArn=machine)["executions"]} == {first, second}


def test_retry_and_wait_run_on_scaled_time(aws: None) -> None:
    # Given a task that fails twice (Retry 1 s, backoff 2) before a 60 s Wait
    fn = create_function("flaky")
    attempts = iter(range(10))

    def flaky(event: Any, context: Any) -> str:
        if next(attempts) < 2:
            raise RuntimeError("transient")
        return "ok"

    probe.BEHAVIOURS["flaky"] = flaky
    definition = {
        "StartAt": "Call",
        "States": {
            "Call": {
                "Type": "Task",
                "Resource": fn,
                "Retry": [{"ErrorEquals": ["RuntimeError"], "IntervalSeconds": 1, "BackoffRate": 2, "MaxAttempts": 3}],
                "Next": "Pause",
            },
            "Pause": {"Type": "Wait", "Seconds": 60, "End": True},
        },
    }
    sfn = client("stepfunctions")
    machine = sfn.create_state_machine(name="slow", definition=json.dumps(definition), roleArn=ROLE)["stateMachineArn"]
    # When it runs
    started = time.monotonic()
    arn = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    # Then it succeeds in far less than the 63 s of AWS time
    assert _wait(arn)["status"] == "SUCCEEDED"
    assert time.monotonic() - started < 5


def test_cloudformation_state_machine_executes_with_substitutions(aws: None) -> None:
    # Given a stack whose EXPRESS state machine gets its function ARN by DefinitionSubstitutions
    fn = create_function("task")
    probe.BEHAVIOURS["task"] = lambda event, context: {"seen": event}
    definition = {
        "StartAt": "Call",
        "States": {
            "Call": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "${TaskArn}", "Payload.$": "$"},
                "OutputPath": "$.Payload",
                "End": True,
            }
        },
    }
    template = {
        "Resources": {
            "Machine": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "StateMachineName": "oms-test-flow",
                    "StateMachineType": "EXPRESS",
                    "RoleArn": ROLE,
                    "DefinitionString": json.dumps(definition),
                    "DefinitionSubstitutions": {"TaskArn": fn},
                },
            }
        },
        "Outputs": {"Arn": {"Value": {"Ref": "Machine"}}},
    }
    cfn = client("cloudformation")
    cfn.create_stack(StackName="flow", TemplateBody=json.dumps(template))
    machine = cfn.describe_stacks(StackName="flow")["Stacks"][0]["Outputs"][0]["OutputValue"]
    # When it is started through the Step Functions API
    sfn = client("stepfunctions")
    assert sfn.describe_state_machine(stateMachineArn=machine)["type"] == "EXPRESS"
    arn = sfn.start_execution(stateMachineArn=machine, input=json.dumps({"order_id": "o1"}))["executionArn"]
    # Then it runs (moto alone: the machine is unknown to the executing backend) and the
    # substituted ARN reached the function
    result = _wait(arn)
    assert result["status"] == "SUCCEEDED", result
    assert json.loads(result["output"]) == {"seen": {"order_id": "o1"}}


def test_start_sync_execution_answers_when_the_express_execution_ended(aws: None) -> None:
    from botocore.config import Config

    # Given an EXPRESS machine whose task takes a while, and one that fails
    fn = create_function("slowtask")

    def slow(event: Any, context: Any) -> dict[str, Any]:
        time.sleep(0.3)
        if event.get("fail"):
            raise RuntimeError("no luck")
        return {"done": event["n"]}

    probe.BEHAVIOURS["slowtask"] = slow
    definition = {"StartAt": "Call", "States": {"Call": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": fn, "Payload.$": "$"}, "OutputPath": "$.Payload", "End": True}}}
    sfn = client("stepfunctions")
    machine = sfn.create_state_machine(name="sync", definition=json.dumps(definition), roleArn=ROLE,
                                       type="EXPRESS")["stateMachineArn"]
    standard = sfn.create_state_machine(name="std", definition=json.dumps(definition), roleArn=ROLE)["stateMachineArn"]
    # (AWS serves StartSyncExecution on the sync- host; the local endpoint is one address)
    sync = boto3.client("stepfunctions", region_name="eu-central-1", config=Config(inject_host_prefix=False))
    # When it is started synchronously
    result = sync.start_sync_execution(stateMachineArn=machine, name="run-1", input=json.dumps({"n": 7}))
    # Then the answer comes after the execution ended, with its output (moto alone: unknown action)
    assert result["status"] == "SUCCEEDED", result
    assert json.loads(result["output"]) == {"done": 7}
    failed = sync.start_sync_execution(stateMachineArn=machine, input=json.dumps({"n": 1, "fail": True}))
    assert failed["status"] == "FAILED" and "output" not in failed
    with pytest.raises(ClientError, match="StateMachineTypeNotSupported"):
        sync.start_sync_execution(stateMachineArn=standard, input="{}")


def test_a_definition_is_parsed_once_and_its_executions_keep_their_own_retries(
        aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.stepfunctions.parser.backend import execution_worker

    from localcloud.patches import stepfunctions_programs

    parsed: list[str] = []
    parser = execution_worker.AmazonStateLanguageParser

    class Counting(parser):  # type: ignore[misc, valid-type]
        @staticmethod
        def parse(definition: str) -> Any:
            parsed.append(definition)
            return parser.parse(definition)

    monkeypatch.setattr(execution_worker, "AmazonStateLanguageParser", Counting)
    # Given a machine whose task fails twice before it succeeds (Retry: 2 more attempts)
    fn = create_function("twice")
    calls: dict[str, int] = {}

    def twice(event: Any, context: Any) -> str:
        calls[event["run"]] = calls.get(event["run"], 0) + 1
        if calls[event["run"]] <= 2:
            raise RuntimeError("transient")
        return "ok"

    probe.BEHAVIOURS["twice"] = twice
    definition = {"StartAt": "Call", "States": {"Call": {
        "Type": "Task", "Resource": fn, "End": True,
        "Retry": [{"ErrorEquals": ["RuntimeError"], "IntervalSeconds": 1, "MaxAttempts": 2}]}}}
    sfn = client("stepfunctions")
    machine = sfn.create_state_machine(name="twice", definition=json.dumps(definition), roleArn=ROLE,
                                       type="EXPRESS")["stateMachineArn"]
    # When three executions run (two of them at once)
    arns = [sfn.start_execution(stateMachineArn=machine, input=json.dumps({"run": r}))["executionArn"]
            for r in ("a", "b")]
    arns.append(sfn.start_execution(stateMachineArn=machine, input=json.dumps({"run": "c"}))["executionArn"])
    # Then each got its own two retries and succeeded, and the definition was parsed once
    assert [_wait(arn)["status"] for arn in arns] == ["SUCCEEDED"] * 3
    assert calls == {"a": 3, "b": 3, "c": 3}
    assert len(parsed) == 1
    # ...where moto alone parses it for every execution
    stepfunctions_programs.uninstall()
    try:
        _wait(sfn.start_execution(stateMachineArn=machine, input=json.dumps({"run": "d"}))["executionArn"])
        assert len(parsed) == 2
    finally:
        stepfunctions_programs.install()


def test_executions_share_the_engines_clients_and_parsed_paths_but_never_their_data(
        aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.stepfunctions.parser.asl.utils import boto_client

    from localcloud.patches import stepfunctions_clients

    made: list[str] = []
    original = stepfunctions_clients._ORIGINAL_CLIENT

    def counting(region: str, service: str, state_credentials: Any = None) -> Any:
        made.append(service)
        return original(region, service, state_credentials)

    monkeypatch.setattr(stepfunctions_clients, "_ORIGINAL_CLIENT", counting)
    stepfunctions_clients._clients.clear()
    stepfunctions_clients.parse.cache_clear()
    # Given a machine whose Lambda task's payload and result go through JSONPaths
    fn = create_function("echo")
    probe.BEHAVIOURS["echo"] = lambda event, context: {"seen": event["order"]["id"]}
    definition = {"StartAt": "Call", "States": {"Call": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": fn, "Payload": {"order.$": "$.order"}},
        "ResultSelector": {"seen.$": "$.Payload.seen"}, "ResultPath": "$.result", "End": True}}}
    sfn = client("stepfunctions")
    machine = sfn.create_state_machine(name="echo", definition=json.dumps(definition), roleArn=ROLE,
                                       type="EXPRESS")["stateMachineArn"]
    # When four executions run, two of them at once
    arns = [sfn.start_execution(stateMachineArn=machine, input=json.dumps({"order": {"id": f"o{n}"}}))[
        "executionArn"] for n in range(2)]
    outputs = [json.loads(_wait(arn)["output"]) for arn in arns]
    for n in range(2, 4):
        outputs.append(json.loads(_wait(sfn.start_execution(
            stateMachineArn=machine, input=json.dumps({"order": {"id": f"o{n}"}}))["executionArn"])["output"]))
    # Then each has its own result, from one Lambda client made once and paths parsed once each
    assert outputs == [{"order": {"id": f"o{n}"}, "result": {"seen": f"o{n}"}} for n in range(4)]
    assert made == ["lambda"]
    assert boto_client.boto_client_for is stepfunctions_clients.boto_client_for
    parsed = stepfunctions_clients.parse.cache_info()
    assert parsed.hits > parsed.misses > 0
