"""The single table, the queues and the event source mappings."""

from __future__ import annotations

import json

import pytest
from cfn_template import function_by_handler, only, resources

pytestmark = pytest.mark.infra


def test_table_per_environment(env_template):
    env, template = env_template
    _, table = only(template, "AWS::DynamoDB::Table")
    properties = table["Properties"]
    prod = env == "prod"
    assert table["DeletionPolicy"] == ("Retain" if prod else "Delete")
    assert table["UpdateReplacePolicy"] == ("Retain" if prod else "Delete")
    assert properties.get("DeletionProtectionEnabled", False) is prod
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["KeySchema"] == [
        {"AttributeName": "PK", "KeyType": "HASH"},
        {"AttributeName": "SK", "KeyType": "RANGE"},
    ]
    assert properties["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert properties["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert properties["SSESpecification"]["SSEEnabled"] is True
    assert {a["AttributeName"]: a["AttributeType"] for a in properties["AttributeDefinitions"]} == {
        name: "S" for name in ("PK", "SK", "GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK", "GSI3PK", "GSI3SK")
    }
    indexes = {index["IndexName"]: index for index in properties["GlobalSecondaryIndexes"]}
    assert set(indexes) == {"GSI1", "GSI2", "GSI3"}
    for name, index in indexes.items():
        assert index["KeySchema"] == [
            {"AttributeName": f"{name}PK", "KeyType": "HASH"},
            {"AttributeName": f"{name}SK", "KeyType": "RANGE"},
        ]
        assert index["Projection"] == {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["summary"]}


def test_event_bus_name(env_template):
    env, template = env_template
    _, bus = only(template, "AWS::Events::EventBus")
    assert bus["Properties"]["Name"] == f"oms-{env}"


def test_intake_queue_redrives_to_its_dlq_after_five_receives(env_template):
    env, template = env_template
    queues = resources(template, "AWS::SQS::Queue")
    by_name = {q["Properties"]["QueueName"]: (lid, q) for lid, q in queues.items()}
    _intake_id, intake = by_name[f"oms-{env}-order-intake"]
    dlq_id, _ = by_name[f"oms-{env}-order-intake-dlq"]
    assert intake["Properties"]["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
        "maxReceiveCount": 5,
    }
    _, function = function_by_handler(template, "functions.capture.handlers.intake.lambda_handler")
    assert intake["Properties"]["VisibilityTimeout"] >= 6 * function["Properties"]["Timeout"]


def test_every_queue_is_encrypted_and_ssl_only(env_template):
    _, template = env_template
    queues = resources(template, "AWS::SQS::Queue")
    for queue in queues.values():
        assert queue["Properties"]["SqsManagedSseEnabled"] is True
    enforced = set()
    for policy in resources(template, "AWS::SQS::QueuePolicy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Deny" and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}:
                enforced |= {ref["Ref"] for ref in policy["Properties"]["Queues"]}
    assert enforced == set(queues)


def test_intake_event_source_mapping(env_template):
    _, template = env_template
    intake_id, _ = function_by_handler(template, "functions.capture.handlers.intake.lambda_handler")
    (mapping,) = [
        m["Properties"]
        for m in resources(template, "AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": intake_id}
    ]
    assert mapping["BatchSize"] == 10
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["EventSourceArn"]["Fn::GetAtt"][1] == "Arn"


def test_stream_event_source_mapping(env_template):
    env, template = env_template
    stream_id, _ = function_by_handler(template, "functions.capture.handlers.stream.lambda_handler")
    table_id, _ = only(template, "AWS::DynamoDB::Table")
    (mapping,) = [
        m["Properties"]
        for m in resources(template, "AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": stream_id}
    ]
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": [table_id, "StreamArn"]}
    assert mapping["BatchSize"] == 100
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BisectBatchOnFunctionError"] is True
    assert mapping["MaximumRetryAttempts"] == 5
    (criteria,) = mapping["FilterCriteria"]["Filters"]
    assert json.loads(criteria["Pattern"]) == {
        "eventName": ["INSERT"], "dynamodb": {"NewImage": {"SK": {"S": ["ORDER"]}}}}
    destination = mapping["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
    queue = template["Resources"][destination]
    assert queue["Type"] == "AWS::SQS::Queue"
    assert queue["Properties"]["QueueName"] == f"oms-{env}-order-stream-dlq"


def test_invoice_stream_event_source_mapping(env_template):
    env, template = env_template
    stream_id, _ = function_by_handler(template, "functions.invoice.handlers.stream.lambda_handler")
    table_id, _ = only(template, "AWS::DynamoDB::Table")
    (mapping,) = [
        m["Properties"]
        for m in resources(template, "AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": stream_id}
    ]
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": [table_id, "StreamArn"]}
    assert mapping["StartingPosition"] == "TRIM_HORIZON"
    assert mapping["BatchSize"] == 25
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BisectBatchOnFunctionError"] is True
    assert mapping["MaximumRetryAttempts"] == 5
    patterns = [json.loads(criteria["Pattern"]) for criteria in mapping["FilterCriteria"]["Filters"]]
    assert patterns == [
        # a shipment just dispatched: start its shipment_invoicing run
        {"eventName": ["MODIFY"],
         "dynamodb": {"NewImage": {"SK": {"S": [{"prefix": "SHIPMENT#"}]}, "status": {"S": ["DISPATCHED"]}},
                      "OldImage": {"status": {"S": ["REQUESTED"]}}}},
        # an order header written while COMPLETED or CANCELLED: the cancel (void the authorisation /
        # give the credit back) and the writes that add OrderCompleted / PaymentVoided to its timeline
        {"eventName": ["MODIFY"],
         "dynamodb": {"NewImage": {"SK": {"S": ["ORDER"]}, "status": {"S": ["COMPLETED", "CANCELLED"]}}}},
        # any write of an invoice: InvoiceIssued, PaymentCaptured on its timeline (transactional outbox)
        {"dynamodb": {"NewImage": {"SK": {"S": [{"prefix": "INVOICE#"}]}}}},
    ]
    destination = mapping["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
    queue = template["Resources"][destination]
    assert queue["Type"] == "AWS::SQS::Queue"
    assert queue["Properties"]["QueueName"] == f"oms-{env}-invoice-stream-dlq"


def test_invoice_stream_filter_lets_in_every_item_the_handler_publishes_finance_events_from() -> None:
    # infra does not import the Lambda code, so the list is written twice; this keeps them one,
    # and checks each finance event's item kind against the filter that lets its writes in
    from functions.invoice.finance_events import FINANCE_EVENTS as published
    from infra.constructs.invoice import FINANCE_EVENTS_ON, INVOICE_WRITTEN, ORDER_CLOSED

    assert sorted(FINANCE_EVENTS_ON) == sorted(published)
    invoice_prefix = INVOICE_WRITTEN["dynamodb"]["NewImage"]["SK"]["S"][0]["prefix"]
    for event, kind in FINANCE_EVENTS_ON.items():
        if kind == "ORDER":
            assert ORDER_CLOSED["dynamodb"]["NewImage"]["SK"]["S"] == ["ORDER"], event
        else:
            assert kind == invoice_prefix, event


def test_paging_tokens_are_signed_with_a_secret_only_listings_read(env_template):
    env, template = env_template
    secrets = resources(template, "AWS::SecretsManager::Secret")
    paging = {rid: r for rid, r in secrets.items() if r["Properties"]["Name"] == f"oms-{env}/paging-key"}
    assert len(paging) == 1
    (secret_id, secret), = paging.items()
    props = secret["Properties"]
    if env == "local":  # a fixed local key (API.md, Local environment only)
        assert props["SecretString"] == "local-paging-key" and "GenerateSecretString" not in props
    else:  # generated at deploy: no value in the template or the repo
        assert "SecretString" not in props and props["GenerateSecretString"]["PasswordLength"] >= 32
    readers = []
    for policy in resources(template, "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if "secretsmanager:GetSecretValue" in _as_list(statement["Action"]) and \
                    statement["Resource"] == {"Ref": secret_id}:
                readers += [r["Ref"] for r in policy["Properties"]["Roles"]]
    # exactly the functions whose listings page: capture's and route's API functions
    assert sorted(r.split("FunctionRole")[0] for r in readers) == ["CaptureApi", "RouteApi"], readers


def _as_list(value):
    return value if isinstance(value, list) else [value]
