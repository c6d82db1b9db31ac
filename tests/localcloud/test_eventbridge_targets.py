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


def test_a_firehose_target_gets_each_event_whole_and_a_failed_delivery_goes_to_the_dlq(aws: None) -> None:
    # Given a rule on a bus sending finance events to a delivery stream (with a DLQ), and a second
    # rule whose stream does not exist
    from tests.localcloud.support import REGION

    events, s3, firehose = client("events"), client("s3"), client("firehose")
    events.create_event_bus(Name="oms-test")
    s3.create_bucket(Bucket="archive-test", CreateBucketConfiguration={"LocationConstraint": REGION})
    stream = firehose.create_delivery_stream(
        DeliveryStreamName="archive", DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={"RoleARN": ROLE, "BucketARN": "arn:aws:s3:::archive-test",
                                            "Prefix": "events/"})["DeliveryStreamARN"]
    dlq_url, dlq_arn = create_queue("archive-dlq")
    gone = stream.replace("/archive", "/deleted")
    for name, arn in (("archive", stream), ("broken", gone)):
        events.put_rule(Name=name, EventBusName="oms-test", EventPattern=json.dumps({"source": ["oms.invoice"]}))
        events.put_targets(Rule=name, EventBusName="oms-test", Targets=[
            {"Id": "fh", "Arn": arn, "RoleArn": ROLE, "DeadLetterConfig": {"Arn": dlq_arn}}])
    # When a finance event is put (moto alone: the stream gets nothing)
    events.put_events(Entries=[{"EventBusName": "oms-test", "Source": "oms.invoice", "DetailType": "InvoiceIssued",
                                "Detail": json.dumps({"data": {"invoice_number": "INV-2026-000001"}})}])
    localcloud.settle()
    # Then the stream archived the whole EventBridge event, and the failed one waits in the DLQ
    (obj,) = s3.list_objects_v2(Bucket="archive-test")["Contents"]
    record = json.loads(s3.get_object(Bucket="archive-test", Key=obj["Key"])["Body"].read())
    assert record["detail-type"] == "InvoiceIssued" and record["source"] == "oms.invoice"
    assert record["detail"] == {"data": {"invoice_number": "INV-2026-000001"}}
    assert record["time"].endswith("Z") and record["id"]
    (dead,) = drain_queue(dlq_url)
    assert json.loads(dead["Body"])["id"] == record["id"]
