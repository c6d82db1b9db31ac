"""The finance archive (infra/constructs/archive.py): the bus's finance events → Firehose → the
finance bucket as JSON lines by day, a Glue table over them for Athena, an alarm on each way it
can fail."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cfn_template import actions_of, only, policy_statements, resources

from infra.config import CONFIGS

pytestmark = pytest.mark.infra

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas" / "events"
FINANCE_EVENTS = ["CreditNoteIssued", "InvoiceIssued", "PaymentCaptured", "PaymentReceived", "PaymentRefunded",
                  "PaymentVoided"]


def _finance_bucket(template) -> tuple[str, dict]:
    (found,) = [(k, b) for k, b in resources(template, "AWS::S3::Bucket").items()
                if "/Archive/FinanceBucket/" in b["Metadata"]["aws:cdk:path"]]
    return found


def test_the_finance_bucket_is_private_versioned_encrypted_ssl_only_retained_in_prod_and_cools(env_template):
    env, template = env_template
    bucket_id, bucket = _finance_bucket(template)
    p = bucket["Properties"]
    assert p["VersioningConfiguration"] == {"Status": "Enabled"}
    assert p["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"}
    assert all(p["PublicAccessBlockConfiguration"].values()) and len(p["PublicAccessBlockConfiguration"]) == 4
    assert p["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    (policy,) = [q["Properties"] for q in resources(template, "AWS::S3::BucketPolicy").values()
                 if q["Properties"]["Bucket"] == {"Ref": bucket_id}]
    (deny,) = policy["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    expected = "Retain" if env == "prod" else None
    if expected:
        assert bucket["DeletionPolicy"] == bucket["UpdateReplacePolicy"] == "Retain"
    rules = {r["Id"]: r for r in p["LifecycleConfiguration"]["Rules"]}
    assert rules["ColdAfter90Days"]["Transitions"] == [{"StorageClass": "GLACIER_IR", "TransitionInDays": 90}]
    assert p["LifecycleConfiguration"]["TransitionDefaultMinimumObjectSize"] == "all_storage_classes_128K"
    assert "Expiration" not in json.dumps(rules)  # the books are never deleted by a rule
    assert template["Outputs"]["FinanceBucketName"]["Value"] == {"Ref": bucket_id}


def test_firehose_writes_json_lines_by_day_with_an_error_prefix_and_cost_minded_buffers(env_template):
    env, template = env_template
    bucket_id, _ = _finance_bucket(template)
    _, stream = only(template, "AWS::KinesisFirehose::DeliveryStream")
    p = stream["Properties"]
    assert p["DeliveryStreamName"] == f"oms-{env}-finance-archive" and p["DeliveryStreamType"] == "DirectPut"
    assert p["DeliveryStreamEncryptionConfigurationInput"] == {"KeyType": "AWS_OWNED_CMK"}
    s3 = p["ExtendedS3DestinationConfiguration"]
    assert s3["BucketARN"] == {"Fn::GetAtt": [bucket_id, "Arn"]}
    assert s3["Prefix"] == "events/dt=!{timestamp:yyyy-MM-dd}/"
    assert s3["ErrorOutputPrefix"] == "errors/!{firehose:error-output-type}/dt=!{timestamp:yyyy-MM-dd}/"
    assert s3["BufferingHints"] == {"IntervalInSeconds": 300, "SizeInMBs": 5}
    assert s3["CompressionFormat"] == "UNCOMPRESSED"
    # EventBridge adds no delimiter: Firehose appends a newline to each record
    assert s3["ProcessingConfiguration"] == {"Enabled": True, "Processors": [{"Type": "AppendDelimiterToRecord"}]}
    assert "DynamicPartitioningConfiguration" not in s3
    assert s3["CloudWatchLoggingOptions"]["Enabled"] is True


def test_firehose_may_write_only_its_two_prefixes_and_its_error_log(env_template):
    _, template = env_template
    bucket_id, _ = _finance_bucket(template)
    _, stream = only(template, "AWS::KinesisFirehose::DeliveryStream")
    role_id = stream["Properties"]["ExtendedS3DestinationConfiguration"]["RoleARN"]["Fn::GetAtt"][0]
    trust = resources(template, "AWS::IAM::Role")[role_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "firehose.amazonaws.com"}]
    granted = {(tuple(sorted(actions_of(s))), json.dumps(s["Resource"], sort_keys=True))
               for s in policy_statements(template, role_id)}
    arn = {"Fn::GetAtt": [bucket_id, "Arn"]}
    objects = sorted(json.dumps({"Fn::Join": ["", [arn, f"/{p}/*"]]}, sort_keys=True) for p in ("events", "errors"))
    assert {a for a, _ in granted} == {("s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"),
                                       ("s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"),
                                       ("logs:PutLogEvents",)}
    (object_grant,) = [json.loads(r) for a, r in granted if "s3:PutObject" in a]
    assert sorted(json.dumps(o, sort_keys=True) for o in object_grant) == objects
    assert "*" not in {r for _, r in granted}
    # and no other role of the stack may touch the finance bucket
    for policy in resources(template, "AWS::IAM::Policy").values():
        if bucket_id in json.dumps(policy["Properties"]["PolicyDocument"]):
            assert policy["Properties"]["Roles"] == [{"Ref": role_id}]


def test_the_rule_sends_exactly_the_six_finance_events_to_firehose_through_a_role_that_may_only_put(env_template):
    env, template = env_template
    stream_id, _ = only(template, "AWS::KinesisFirehose::DeliveryStream")
    (rule,) = [r["Properties"] for r in resources(template, "AWS::Events::Rule").values()]
    assert rule["EventBusName"] == {"Ref": only(template, "AWS::Events::EventBus")[0]}
    # the detail-types with a schema in schemas/events/, from the one source that publishes them
    assert sorted(p.stem for p in SCHEMAS.glob("*.json")) == FINANCE_EVENTS
    assert rule["EventPattern"] == {"source": ["oms.invoice"], "detail-type": FINANCE_EVENTS}
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [stream_id, "Arn"]}
    assert not {"Input", "InputPath", "InputTransformer"} & set(target)  # the whole event is archived
    role_id = target["RoleArn"]["Fn::GetAtt"][0]
    (statement,) = policy_statements(template, role_id)
    assert sorted(actions_of(statement)) == ["firehose:PutRecord", "firehose:PutRecordBatch"]
    assert statement["Resource"] == {"Fn::GetAtt": [stream_id, "Arn"]}
    # what EventBridge cannot deliver after 24 hours of retries waits in an alarmed DLQ
    dlq_id = target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
    assert resources(template, "AWS::SQS::Queue")[dlq_id]["Properties"]["QueueName"] == f"oms-{env}-finance-archive-dlq"
    policies = [q["Properties"]["PolicyDocument"]["Statement"] for q in resources(template, "AWS::SQS::QueuePolicy")
                .values() if {"Ref": dlq_id} in q["Properties"]["Queues"]]
    (allow,) = [s for statements in policies for s in statements if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "events.amazonaws.com"} and allow["Action"] == "sqs:SendMessage"
    assert list(allow["Condition"]["ArnEquals"]) == ["aws:SourceArn"]


def test_alarms_watch_firehose_delivery_and_the_rules_target_on_its_custom_bus(env_template):
    env, template = env_template
    name = f"oms-{env}-finance-archive"
    topic = only(template, "AWS::SNS::Topic")[0]
    bus = only(template, "AWS::Events::EventBus")[0]
    alarms = {(a["Properties"]["Namespace"], a["Properties"]["MetricName"]): a["Properties"]
              for a in resources(template, "AWS::CloudWatch::Alarm").values() if "Namespace" in a["Properties"]}
    freshness = alarms[("AWS/Firehose", "DeliveryToS3.DataFreshness")]
    success = alarms[("AWS/Firehose", "DeliveryToS3.Success")]
    assert freshness["Dimensions"] == success["Dimensions"] == [{"Name": "DeliveryStreamName", "Value": name}]
    assert freshness["Threshold"] == 900 and freshness["ComparisonOperator"] == "GreaterThanThreshold"
    assert success["Threshold"] == 1 and success["ComparisonOperator"] == "LessThanThreshold"
    # a custom bus's rule metrics carry EventBusName and RuleName (RuleName alone is the default bus's)
    lost = alarms[("AWS/Events", "InvocationsFailedToBeSentToDlq")]
    retrying = alarms[("AWS/Events", "RetryInvocationAttempts")]
    for alarm in (lost, retrying):
        assert sorted(alarm["Dimensions"], key=lambda d: d["Name"]) == [
            {"Name": "EventBusName", "Value": {"Ref": bus}}, {"Name": "RuleName", "Value": name}]
        assert alarm["Threshold"] == 0 and alarm["ComparisonOperator"] == "GreaterThanThreshold"
        assert alarm["Statistic"] == "Sum"
    assert lost["EvaluationPeriods"] == 1 and retrying["EvaluationPeriods"] == 3
    # with a DLQ on the target, FailedInvocations does not count what went there: no alarm on it
    assert ("AWS/Events", "FailedInvocations") not in alarms
    for alarm in (freshness, success, lost, retrying):
        assert alarm["AlarmActions"] == [{"Ref": topic}]


def test_athena_reads_the_archive_through_a_projected_glue_table(env_template):
    env, template = env_template
    bucket_id, _ = _finance_bucket(template)
    _, database = only(template, "AWS::Glue::Database")
    assert database["Properties"]["DatabaseInput"]["Name"] == f"oms_{env}_finance"
    _, table = only(template, "AWS::Glue::Table")
    t = table["Properties"]["TableInput"]
    assert table["Properties"]["DatabaseName"] == f"oms_{env}_finance" and t["Name"] == "finance_events"
    assert t["TableType"] == "EXTERNAL_TABLE"
    assert t["PartitionKeys"] == [{"Name": "dt", "Type": "string", "Comment": "arrival day, UTC (yyyy-MM-dd)"}]
    parameters = t["Parameters"]
    assert parameters["projection.enabled"] == "true" and parameters["projection.dt.type"] == "date"
    assert parameters["projection.dt.format"] == "yyyy-MM-dd"
    location = {"Fn::Join": ["", ["s3://", {"Ref": bucket_id}, "/events/"]]}
    assert t["StorageDescriptor"]["Location"] == location
    assert parameters["storage.location.template"] == {"Fn::Join": ["", ["s3://", {"Ref": bucket_id},
                                                                          "/events/dt=${dt}/"]]}
    serde = t["StorageDescriptor"]["SerdeInfo"]
    assert serde["SerializationLibrary"] == "org.openx.data.jsonserde.JsonSerDe"
    assert serde["Parameters"]["mapping.detail_type"] == "detail-type"
    columns = {c["Name"]: c["Type"] for c in t["StorageDescriptor"]["Columns"]}
    assert {"id", "detail_type", "source", "time", "detail"} <= set(columns)
    # every field any finance event's data carries is a column of detail.data
    fields = {f for p in SCHEMAS.glob("*.json") for f in json.loads(p.read_text())["properties"]["data"]["properties"]}
    assert all(f"{f}:string" in columns["detail"] for f in fields)
    assert columns["detail"].startswith("struct<metadata:struct<event_id:string,occurred_at:string")


def test_the_local_stack_archives_with_the_same_template(templates):
    # buffering and prefixes are the deployed ones locally too: the emulator's patch delivers at once
    streams = {env: only(t, "AWS::KinesisFirehose::DeliveryStream")[1]["Properties"]
               for env, t in templates.items()}
    configs = {json.dumps({k: v for k, v in p["ExtendedS3DestinationConfiguration"].items()
                           if k not in ("BucketARN", "RoleARN", "CloudWatchLoggingOptions")}, sort_keys=True)
               for p in streams.values()}
    assert len(configs) == 1 and set(streams) == set(CONFIGS)
