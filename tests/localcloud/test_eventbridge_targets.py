"""EventBridge targets (localcloud.patches.eventbridge_targets)."""

from __future__ import annotations

import json

import localcloud
from tests.localcloud.lambdas import probe
from tests.localcloud.support import ROLE, client, create_function, create_queue, drain_queue


def test_rule_targets_lambda_state_machine_and_sqs_with_input_options(aws: None) -> None:
    # Given a bus with one rule targeting a function (InputPath), a state machine
    # (InputTransformer) and a queue twice (constant Input, and the whole event)
    events, sfn = client("events"), client("stepfunctions")
    events.create_event_bus(Name="oms-test")
    fn_arn = create_function("on-captured")
    machine = sfn.create_state_machine(
        name="flow",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}),
        roleArn=ROLE,
        type="EXPRESS",
    )["stateMachineArn"]
    url, queue_arn = create_queue("captured")
    events.put_rule(Name="captured", EventBusName="oms-test", EventPattern=json.dumps({"source": ["oms.capture"]}))
    events.put_targets(
        Rule="captured",
        EventBusName="oms-test",
        Targets=[
            {"Id": "fn", "Arn": fn_arn, "InputPath": "$.detail"},
            {
                "Id": "sfn",
                "Arn": machine,
                "RoleArn": ROLE,
                "InputTransformer": {
                    "InputPathsMap": {"id": "$.detail.order_id"},
                    "InputTemplate": '{"order_id": <id>}',
                },
            },
            {"Id": "constant", "Arn": queue_arn, "Input": '{"fixed": true}'},
            {"Id": "whole", "Arn": queue_arn},
        ],
    )
    # When an event is put (moto alone raises NotImplementedError for the Lambda target,
    # and sends the whole event to the queue for the constant-Input target)
    events.put_events(
        Entries=[
            {
                "EventBusName": "oms-test",
                "Source": "oms.capture",
                "DetailType": "OrderCaptured",
                "Detail": json.dumps({"order_id": "ord_1"}),
            }
        ]
    )
    localcloud.settle()
    # Then every target got its shaped input
    assert probe.calls("on-captured") == [{"order_id": "ord_1"}]
    (execution,) = sfn.list_executions(stateMachineArn=machine)["executions"]
    assert json.loads(sfn.describe_execution(executionArn=execution["executionArn"])["input"]) == {"order_id": "ord_1"}
    bodies = sorted((json.loads(m["Body"]) for m in drain_queue(url)), key=len)
    assert bodies[0] == {"fixed": True}
    assert bodies[1]["detail-type"] == "OrderCaptured" and bodies[1]["detail"] == {"order_id": "ord_1"}
