"""The single table, the queues and the event source mappings."""

from __future__ import annotations

import json

import pytest
from cfn_template import actions_of, function_by_handler, only, policy_statements, resources

from infra.config import CONFIGS

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
        name: "S" for name in ("PK", "SK", "GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK", "GSI3PK", "GSI3SK",
                               "GSI4PK", "GSI4SK")
    }
    indexes = {index["IndexName"]: index for index in properties["GlobalSecondaryIndexes"]}
    assert set(indexes) == {"GSI1", "GSI2", "GSI3", "GSI4"}
    for name, index in indexes.items():
        assert index["KeySchema"] == [
            {"AttributeName": f"{name}PK", "KeyType": "HASH"},
            {"AttributeName": f"{name}SK", "KeyType": "RANGE"},
        ]
        if name == "GSI4":  # the open orders: keys only (1 WRU at capture, 1 at completion)
            assert index["Projection"] == {"ProjectionType": "KEYS_ONLY"}
        else:
            assert index["Projection"] == {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["summary"]}


#: CloudFormation's DeletionPolicy for each RemovalPolicy of infra/config.py.
DELETION_POLICY = {"destroy": "Delete", "retain": "Retain", "snapshot": "Snapshot"}


def test_document_bucket_is_private_versioned_encrypted_ssl_only_and_retained_in_prod(env_template, assembly_dir):
    env, template = env_template
    buckets = resources(template, "AWS::S3::Bucket")
    (bucket_id, bucket), = [(k, b) for k, b in buckets.items()
                            if "/Data/DocumentBucket/" in b["Metadata"]["aws:cdk:path"]]
    (finance_id,) = set(buckets) - {bucket_id}  # the finance archive's: tests/infra/test_infra_archive.py
    properties = bucket["Properties"]
    # Then nothing is ever lost to an overwrite, and every object is encrypted at rest (SSE-S3) ...
    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
    assert properties["BucketEncryption"] == {"ServerSideEncryptionConfiguration": [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
    # ... no ACL or bucket policy can make it public, and no ACL grants anyone anything ...
    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True}
    assert properties["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert "AccessControl" not in properties
    # ... its policy only denies every request that does not come over TLS (it allows nothing) ...
    (policy,) = [p["Properties"] for p in resources(template, "AWS::S3::BucketPolicy").values()
                 if p["Properties"]["Bucket"] == {"Ref": bucket_id}]
    assert policy["Bucket"] == {"Ref": bucket_id}
    arn = {"Fn::GetAtt": [bucket_id, "Arn"]}
    assert policy["PolicyDocument"]["Statement"] == [{
        "Action": "s3:*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}, "Effect": "Deny",
        "Principal": {"AWS": "*"}, "Resource": [arn, {"Fn::Join": ["", [arn, "/*"]]}]}]
    # ... and prod keeps it (and its documents) whatever happens to the stack; the other
    # environments follow their configured removal policy
    expected = "Retain" if env == "prod" else DELETION_POLICY[CONFIGS[env].removal_policy.value.lower()]
    assert bucket["DeletionPolicy"] == expected
    assert bucket["UpdateReplacePolicy"] == expected
    # Only the renderer may put objects, only the invoice API get them (to sign its links), and
    # no role of the stack may do anything else with S3 (but Firehose's, in the finance bucket only)
    functions = resources(template, "AWS::Lambda::Function")
    role_of = {f["Properties"]["Role"]["Fn::GetAtt"][0]: f["Properties"]["Handler"] for f in functions.values()}
    granted = []
    for policy_ in resources(template, "AWS::IAM::Policy").values():
        for statement in policy_["Properties"]["PolicyDocument"]["Statement"]:
            on_s3 = [a for a in actions_of(statement) if a.lower().startswith("s3:") or a == "*"]
            if finance_id in json.dumps(statement["Resource"]) and bucket_id not in json.dumps(statement["Resource"]):
                continue
            if on_s3 or bucket_id in json.dumps(statement["Resource"]):
                for role in policy_["Properties"]["Roles"]:
                    granted.append((role_of.get(role["Ref"], role["Ref"]), statement["Effect"],
                                    actions_of(statement), statement["Resource"]))
    objects = {"Fn::Join": ["", [arn, "/*"]]}
    assert sorted(granted, key=json.dumps) == sorted([
        ("functions.invoice.handlers.render_document.lambda_handler", "Allow", ["s3:PutObject"], objects),
        ("functions.invoice.handlers.api.lambda_handler", "Allow", ["s3:GetObject"], objects),
    ], key=json.dumps)
    # cdk-nag's finding for the objects' wildcard is acknowledged on exactly those two roles
    metadata = json.loads((assembly_dir / f"Oms-{env}.metadata.json").read_text())
    finding = f"Annotation::AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/*]"
    acknowledged = sorted(path for path, entries in metadata.items() for entry in entries
                          if entry["type"] == "aws:cdk:acknowledged-rules" and finding in (entry["data"] or {}))
    assert acknowledged == [f"/Oms-{env}/Invoice/ApiFunctionRole", f"/Oms-{env}/Invoice/RenderFunctionRole"]


def test_event_bus_name(env_template):
    env, template = env_template
    _, bus = only(template, "AWS::Events::EventBus")
    assert bus["Properties"]["Name"] == f"oms-{env}"


def _intake_queues(env: str, template):
    """channel -> (queue id, queue, DLQ id) of the environment's configured feed channels."""
    queues = resources(template, "AWS::SQS::Queue")
    by_name = {q["Properties"]["QueueName"]: (lid, q) for lid, q in queues.items()}
    found = {}
    for channel in CONFIGS[env].feed_channels:
        queue_id, queue = by_name[f"oms-{env}-intake-{channel}"]
        dlq_id, _ = by_name[f"oms-{env}-intake-{channel}-dlq"]
        found[channel] = (queue_id, queue, dlq_id)
    return found


def test_each_configured_channels_queue_reads_back_as_it_by_the_intake_functions_rule(env_template):
    from functions.capture.feeds import feed_queue

    env, template = env_template
    for channel, (_, queue, _) in _intake_queues(env, template).items():
        arn = f"arn:aws:sqs:eu-central-1:123456789012:{queue['Properties']['QueueName']}"
        assert feed_queue(arn).channel == channel


def test_one_intake_queue_per_configured_channel(env_template):
    env, template = env_template
    names = {q["Properties"]["QueueName"] for q in resources(template, "AWS::SQS::Queue").values()}
    intake = {n.removeprefix(f"oms-{env}-intake-") for n in names
              if n.startswith(f"oms-{env}-intake-") and not n.endswith("-dlq")}
    assert intake == set(CONFIGS[env].feed_channels)
    assert {"webshop", "marketplace"} <= intake
    assert f"oms-{env}-order-intake" not in names  # no shared queue where any sender picks the channel


def test_each_intake_queue_redrives_to_its_own_dlq_after_five_receives(env_template):
    env, template = env_template
    _, function = function_by_handler(template, "functions.capture.handlers.intake.lambda_handler")
    for _channel, (_queue_id, queue, dlq_id) in _intake_queues(env, template).items():
        assert queue["Properties"]["RedrivePolicy"] == {
            "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
            "maxReceiveCount": 5,
        }
        assert queue["Properties"]["VisibilityTimeout"] >= 6 * function["Properties"]["Timeout"]


def _policy_of(template, queue_id):
    (policy,) = [p["Properties"]["PolicyDocument"]["Statement"]
                 for p in resources(template, "AWS::SQS::QueuePolicy").values()
                 if {"Ref": queue_id} in p["Properties"]["Queues"]]
    return policy


def _arn(sender):
    """A sender of infra/config.py as the template writes its ARN."""
    if sender == "account":
        return {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::", {"Ref": "AWS::AccountId"}, ":root"]]}
    if sender.startswith("role/"):
        return {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::", {"Ref": "AWS::AccountId"},
                                  f":{sender}"]]}
    return sender


ROOT = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::", {"Ref": "AWS::AccountId"}, ":root"]]}


def _allowed(statements, action):
    """Who the Allow statements let do ``action``: ``account`` and the ARNs they name."""
    named = []
    for s in statements:
        if s["Effect"] != "Allow" or action not in actions_of(s):
            continue
        if "Condition" not in s:
            assert s["Principal"] == {"AWS": ROOT}
            named.append("account")
        else:
            assert set(s["Condition"]) == {"ArnEquals"}
            named += s["Condition"]["ArnEquals"]["aws:PrincipalArn"]
    return named


def test_intake_queue_policy_names_its_senders_and_denies_every_other(env_template):
    env, template = env_template
    for channel, (queue_id, _, dlq_id) in _intake_queues(env, template).items():
        senders = CONFIGS[env].feed_channels[channel]
        statements = _policy_of(template, queue_id)
        # Then only the configured senders are allowed to send (roles named by aws:PrincipalArn:
        # SQS would refuse a policy naming a role that does not exist yet) ...
        assert _allowed(statements, "sqs:SendMessage") == [_arn(s) if s != "account" else "account" for s in senders]
        # ... every other principal is denied, whatever its own IAM policies grant ...
        (deny,) = [s for s in statements if s["Effect"] == "Deny" and "sqs:SendMessage" in actions_of(s)]
        assert deny["Principal"] == {"AWS": "*"} and deny["Resource"] == {"Fn::GetAtt": [queue_id, "Arn"]}
        arns = [_arn(s) for s in senders if s != "account"]
        expected = {}
        if "account" in senders:
            expected["StringNotEquals"] = {"aws:PrincipalAccount": [{"Ref": "AWS::AccountId"}]}
        if arns:
            expected["ArnNotEquals"] = {"aws:PrincipalArn": arns}
        assert deny["Condition"] == expected
        # ... and the senders may read the orders refused to them from the channel's DLQ
        assert _allowed(_policy_of(template, dlq_id), "sqs:ReceiveMessage") == _allowed(statements, "sqs:SendMessage")


def test_only_the_intake_function_may_send_to_a_channels_dlq(env_template):
    # A dead letter on the DLQ is redriven into the channel's queue (oms redrive) and captured
    # as that channel: so no principal but the intake function's role may write one there
    # (SQS's own move of a message given up on needs no principal's permission)
    env, template = env_template
    _, function = function_by_handler(template, "functions.capture.handlers.intake.lambda_handler")
    role_arn = {"Fn::GetAtt": [function["Properties"]["Role"]["Fn::GetAtt"][0], "Arn"]}
    for _channel, (_, _, dlq_id) in _intake_queues(env, template).items():
        statements = _policy_of(template, dlq_id)
        (deny,) = [s for s in statements if s["Effect"] == "Deny" and "sqs:SendMessage" in actions_of(s)]
        assert deny["Principal"] == {"AWS": "*"} and deny["Resource"] == {"Fn::GetAtt": [dlq_id, "Arn"]}
        assert deny["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": role_arn}}
        assert not [s for s in statements if s["Effect"] == "Allow" and "sqs:SendMessage" in actions_of(s)]


def test_deployed_feeds_name_roles_not_the_whole_account(templates):
    # Given the example config: locally any principal of the account sends; deployed, each
    # channel's connector role only (so an account role with sqs:* still cannot send as it)
    assert set(CONFIGS["local"].feed_channels.values()) == {("account",)}
    for env in ("dev", "staging", "prod"):
        for channel, senders in CONFIGS[env].feed_channels.items():
            assert senders == (f"role/oms-{env}-feed-{channel}",)
            queue_id = _intake_queues(env, templates[env])[channel][0]
            (deny,) = [s for s in _policy_of(templates[env], queue_id) if s["Effect"] == "Deny"
                       and "sqs:SendMessage" in actions_of(s)]
            assert set(deny["Condition"]) == {"ArnNotEquals"}


def test_a_channel_without_senders_gets_a_queue_nobody_may_send_to():
    from aws_cdk import App, Stack
    from aws_cdk.assertions import Template as CdkTemplate

    from infra.config import EnvironmentConfig
    from infra.constructs.messaging import Messaging
    from infra.constructs.monitoring import Monitoring

    stack = Stack(App(), "FeedProbe")
    config = EnvironmentConfig(name="probe", payment_provider="local", feed_channels={"paused": ()})
    Messaging(stack, "Messaging", config=config, monitoring=Monitoring(stack, "Monitoring", config=config))
    policies = CdkTemplate.from_stack(stack).find_resources("AWS::SQS::QueuePolicy")
    sends = [s for p in policies.values() for s in p["Properties"]["PolicyDocument"]["Statement"]
             if "sqs:SendMessage" in actions_of(s)]
    (deny,) = sends  # no Allow: and a Deny without condition
    assert deny["Effect"] == "Deny" and "Condition" not in deny


def test_a_connector_role_in_another_account_is_allowed_through_its_account():
    from aws_cdk import App, Stack
    from aws_cdk.assertions import Template as CdkTemplate

    from infra.config import EnvironmentConfig
    from infra.constructs.messaging import Messaging
    from infra.constructs.monitoring import Monitoring

    stack = Stack(App(), "FeedProbe")
    role = "arn:aws:iam::111122223333:role/marketplace-connector"
    config = EnvironmentConfig(name="probe", payment_provider="local", feed_channels={"marketplace": (role,)})
    Messaging(stack, "Messaging", config=config, monitoring=Monitoring(stack, "Monitoring", config=config))
    statements = [s for p in CdkTemplate.from_stack(stack).find_resources("AWS::SQS::QueuePolicy").values()
                  for s in p["Properties"]["PolicyDocument"]["Statement"] if "sqs:SendMessage" in actions_of(s)]
    (allow,) = [s for s in statements if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"AWS": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"},
                                                            ":iam::111122223333:root"]]}}
    assert allow["Condition"] == {"ArnEquals": {"aws:PrincipalArn": [role]}}


@pytest.mark.parametrize("channels", [{"Web Shop": ("account",)}, {"webshop": "account"},
                                      {"webshop-dlq": ("account",)},  # its queue would be another's DLQ
                                      {"webshop": ("123456789012",)}])
def test_a_feed_config_no_queue_or_policy_can_carry_is_refused_at_synth(channels):
    from infra.config import EnvironmentConfig
    from infra.constructs.messaging import check_feed_channels

    with pytest.raises(ValueError, match="feed channel"):
        check_feed_channels(EnvironmentConfig(name="probe", payment_provider="local", feed_channels=channels))


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


def test_intake_function_consumes_every_channel_queue_and_may_dead_letter_to_its_dlqs(env_template):
    env, template = env_template
    intake_id, _ = function_by_handler(template, "functions.capture.handlers.intake.lambda_handler")
    mappings = [m["Properties"] for m in resources(template, "AWS::Lambda::EventSourceMapping").values()
                if m["Properties"]["FunctionName"] == {"Ref": intake_id}]
    queues = _intake_queues(env, template)
    # one event source mapping per channel queue
    assert sorted(m["EventSourceArn"]["Fn::GetAtt"][0] for m in mappings) == sorted(q[0] for q in queues.values())
    for mapping in mappings:
        assert mapping["BatchSize"] == 10
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert mapping["EventSourceArn"]["Fn::GetAtt"][1] == "Arn"
    role_id = function_by_handler(template, "functions.capture.handlers.intake.lambda_handler")[1][
        "Properties"]["Role"]["Fn::GetAtt"][0]
    sends = [s for s in policy_statements(template, role_id) if "sqs:SendMessage" in actions_of(s)]
    targets = [r for s in sends for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])]
    # it may send to the channels' DLQs, and nowhere else (never to an intake queue)
    assert sorted(r["Fn::GetAtt"][0] for r in targets) == sorted(q[2] for q in queues.values())
    assert {a for s in sends for a in actions_of(s)} == {"sqs:SendMessage"}


def test_document_queue_redrives_to_its_dlq_and_only_the_renderer_consumes_it(env_template):
    env, template = env_template
    queues = {q["Properties"]["QueueName"]: (lid, q) for lid, q in resources(template, "AWS::SQS::Queue").items()}
    queue_id, queue = queues[f"oms-{env}-documents"]
    dlq_id, dlq = queues[f"oms-{env}-documents-dlq"]
    assert "RedrivePolicy" not in dlq["Properties"]
    assert queue["Properties"]["RedrivePolicy"] == {"deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
                                                    "maxReceiveCount": 5}
    render_id, render = function_by_handler(template, "functions.invoice.handlers.render_document.lambda_handler")
    assert queue["Properties"]["VisibilityTimeout"] >= 6 * render["Properties"]["Timeout"]
    # the renderer runs with SnapStart on its published version (its PDF and XML libraries are
    # imported at init, in the snapshot), and only it: one version of it, no other function's
    snap = {fid: f["Properties"].get("SnapStart") for fid, f in resources(template, "AWS::Lambda::Function").items()}
    assert {fid for fid, s in snap.items() if s} == {render_id}
    assert snap[render_id] == {"ApplyOn": "PublishedVersions"}
    versions = resources(template, "AWS::Lambda::Version")
    (version_id,) = versions
    assert versions[version_id]["Properties"]["FunctionName"] == {"Ref": render_id}
    # one event source mapping on the queue, the renderer's published version; none on its DLQ
    # (redriven by hand)
    on_queues = [m["Properties"] for m in resources(template, "AWS::Lambda::EventSourceMapping").values()
                 if m["Properties"]["EventSourceArn"]["Fn::GetAtt"][0] in (queue_id, dlq_id)]
    assert on_queues == [{**on_queues[0], "FunctionName": {"Fn::Join": ["", [
        {"Ref": render_id}, ":", {"Fn::GetAtt": [version_id, "Version"]}]]},
        "EventSourceArn": {"Fn::GetAtt": [queue_id, "Arn"]}}]
    (mapping,) = on_queues
    assert mapping["BatchSize"] == 5
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    # the invoice stream sends to the queue, the renderer receives from it: no other role names
    # either queue (SQS itself moves a message given up on to the DLQ)
    stream_id, _ = function_by_handler(template, "functions.invoice.handlers.stream.lambda_handler")
    role = {fid: f["Properties"]["Role"]["Fn::GetAtt"][0]
            for fid, f in resources(template, "AWS::Lambda::Function").items()}
    uses: dict[str, set[str]] = {}
    for role_id in resources(template, "AWS::IAM::Role"):
        for statement in policy_statements(template, role_id):
            targets = _as_list(statement["Resource"])
            if {"Fn::GetAtt": [dlq_id, "Arn"]} in targets:
                uses.setdefault(role_id, set()).add("dlq")
            if {"Fn::GetAtt": [queue_id, "Arn"]} in targets:
                uses.setdefault(role_id, set()).update(a for a in actions_of(statement) if a.startswith("sqs:"))
    assert uses == {
        role[stream_id]: {"sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"},
        role[render_id]: {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
                          "sqs:GetQueueAttributes", "sqs:GetQueueUrl"},
    }


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
    header, restock = (json.loads(c["Pattern"]) for c in mapping["FilterCriteria"]["Filters"])
    assert header == {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"SK": {"S": ["ORDER"]}}}}
    # a stock count written with the restock mark: the SKU's backordered orders are run again
    assert restock == {"eventName": ["INSERT", "MODIFY"], "dynamodb": {"NewImage": {
        "PK": {"S": [{"prefix": "SKU#"}]}, "SK": {"S": [{"prefix": "NODE#"}]},
        "restocked_at": {"S": [{"exists": True}]}}}}
    destination = mapping["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
    queue = template["Resources"][destination]
    assert queue["Type"] == "AWS::SQS::Queue"
    assert queue["Properties"]["QueueName"] == f"oms-{env}-order-stream-dlq"


def test_the_restock_filter_names_the_mark_and_the_keys_the_code_writes() -> None:
    # infra does not import the Lambda code: the names are written twice, this keeps them one
    from functions.core.adapters.keys import RESTOCKED, STOCK_PREFIX, sku_pk
    from infra.constructs.capture import RESTOCK_FILTER

    image = RESTOCK_FILTER["dynamodb"]["NewImage"]
    assert set(image) == {"PK", "SK", RESTOCKED}
    assert image["PK"]["S"] == [{"prefix": sku_pk("")}] and image["SK"]["S"] == [{"prefix": STOCK_PREFIX}]


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
        # any write of an invoice or a credit note: InvoiceIssued, PaymentCaptured, CreditNoteIssued,
        # PaymentRefunded on its timeline (transactional outbox)
        {"dynamodb": {"NewImage": {"SK": {"S": [{"prefix": "INVOICE#"}, {"prefix": "CREDITNOTE#"}]}}}},
        # a return written while (partially) received: start return_processing per receipt added
        {"eventName": ["MODIFY"],
         "dynamodb": {"NewImage": {"SK": {"S": [{"prefix": "RETURN#"}]},
                                   "status": {"S": ["PARTIALLY_RECEIVED", "RECEIVED", "CLOSED"]}}}},
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
    document_prefixes = [rule["prefix"] for rule in INVOICE_WRITTEN["dynamodb"]["NewImage"]["SK"]["S"]]
    assert document_prefixes == ["INVOICE#", "CREDITNOTE#"]
    for event, kind in FINANCE_EVENTS_ON.items():
        if kind == "ORDER":
            assert ORDER_CLOSED["dynamodb"]["NewImage"]["SK"]["S"] == ["ORDER"], event
        else:
            assert kind in document_prefixes, event


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
    # exactly the functions whose listings page: capture's, route's, returns' and invoice's API functions
    assert sorted(r.split("FunctionRole")[0] for r in readers) == ["CaptureApi", "InvoiceApi", "ReturnsApi",
                                                                   "RouteApi"], readers


def _as_list(value):
    return value if isinstance(value, list) else [value]
