"""Deploying a cloud assembly (localcloud.deploy)."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

import pytest

from localcloud.deploy import DeployError, deploy_template
from localcloud.server import LocalCloud, info
from tests.localcloud import api_stack
from tests.localcloud.lambdas import probe
from tests.localcloud.support import PROBE, ROLE, client


def test_deploy_refuses_a_resource_moto_skips(tmp_path: Path) -> None:
    # Given a template with a resource type moto does not model and that is not allowed
    extra = {"Project": {"Type": "AWS::CodeBuild::Project", "Properties": {"Name": "p"}}}
    assembly = api_stack.write_assembly(tmp_path, extra)
    # Then the deploy fails loudly instead of reporting a half-created stack
    with (
        pytest.raises(DeployError, match=r"moto did not create: Project \(AWS::CodeBuild::Project\)"),
        LocalCloud(assembly=assembly, stack_name=api_stack.STACK),
    ):
        pass


def _lines(stream: IO[str]) -> queue.Queue[str | None]:
    """The stream's lines as they come (``None`` at EOF), so reading can have a deadline."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line.strip())
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def test_serve_deploys_serves_and_stops_cleanly(tmp_path: Path) -> None:
    # Given an assembly and a free port
    assembly = api_stack.write_assembly(tmp_path)
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    # When `python -m localcloud serve` runs
    command = [sys.executable, "-m", "localcloud", "serve", "--port", str(port), "--assembly", str(assembly)]
    process = subprocess.Popen(
        [*command, "--stack", api_stack.STACK, "--no-seed"],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines, printed = _lines(process.stdout), []
        deadline = time.monotonic() + 60
        while not printed or printed[-1] != "OMS local stack ready":
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"serve not ready after 60 s: {printed}")
            assert line is not None, f"serve exited early: {printed}"
            printed.append(line)
        # Then it printed the API URL, serves /_local/info, and exits 0 on SIGTERM
        assert f"API:  http://127.0.0.1:{port}" in printed
        assert info(f"http://127.0.0.1:{port}")["stack_name"] == api_stack.STACK
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        process.kill()


def test_resources_moto_skips_or_crashes_on_are_created(aws: None) -> None:
    # Given a stack with a rule on {Ref: Bus} (moto alone crashes), and a queue policy, topic
    # policy, subscription and alarm (moto alone silently skips them)
    policy = {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]}
    template = {
        "Resources": {
            "Bus": {"Type": "AWS::Events::EventBus", "Properties": {"Name": "oms-test"}},
            "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "q"}},
            "Rule": {
                "Type": "AWS::Events::Rule",
                "Properties": {
                    "EventBusName": {"Ref": "Bus"},
                    "EventPattern": {"source": ["oms.capture"]},
                    "Targets": [{"Id": "q", "Arn": {"Fn::GetAtt": ["Queue", "Arn"]}}],
                },
            },
            "QueuePolicy": {
                "Type": "AWS::SQS::QueuePolicy",
                "Properties": {"Queues": [{"Ref": "Queue"}], "PolicyDocument": policy},
            },
            "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "alarms"}},
            "TopicPolicy": {
                "Type": "AWS::SNS::TopicPolicy",
                "Properties": {"Topics": [{"Ref": "Topic"}], "PolicyDocument": policy},
            },
            "Subscription": {
                "Type": "AWS::SNS::Subscription",
                "Properties": {
                    "TopicArn": {"Ref": "Topic"},
                    "Protocol": "sqs",
                    "Endpoint": {"Fn::GetAtt": ["Queue", "Arn"]},
                },
            },
            "Alarm": {
                "Type": "AWS::CloudWatch::Alarm",
                "Properties": {
                    "AlarmName": "dlq-not-empty",
                    "Namespace": "AWS/SQS",
                    "MetricName": "ApproximateNumberOfMessagesVisible",
                    "Dimensions": [{"Name": "QueueName", "Value": "q"}],
                    "ComparisonOperator": "GreaterThanThreshold",
                    "EvaluationPeriods": 1,
                    "Period": 60,
                    "Statistic": "Maximum",
                    "Threshold": 0,
                    "AlarmActions": [{"Ref": "Topic"}],
                },
            },
        }
    }
    # When it is deployed
    deployment = deploy_template(template, "extras")
    # Then every resource exists where its service shows it: the rule on the bus the Ref named,
    # targeting the queue, and the policies are the template's (moto gives topics a default one)
    events = client("events")
    (rule,) = events.list_rules(EventBusName="oms-test")["Rules"]
    assert json.loads(rule["EventPattern"]) == {"source": ["oms.capture"]}
    targets = events.list_targets_by_rule(Rule=rule["Name"], EventBusName="oms-test")["Targets"]
    url = deployment.physical_ids["Queue"]
    queue_attributes = client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["Policy", "QueueArn"])
    assert [t["Arn"] for t in targets] == [queue_attributes["Attributes"]["QueueArn"]]
    assert json.loads(queue_attributes["Attributes"]["Policy"])["Statement"] == policy["Statement"]
    topic = deployment.physical_ids["Topic"]
    topic_policy = json.loads(client("sns").get_topic_attributes(TopicArn=topic)["Attributes"]["Policy"])
    assert topic_policy["Statement"] == policy["Statement"]
    assert client("cloudwatch").describe_alarms()["MetricAlarms"][0]["AlarmName"] == "dlq-not-empty"
    assert len(client("sns").list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]) == 1


def test_a_bucket_policy_is_kept_but_for_its_ssl_only_statement(aws: None) -> None:
    # Given a bucket whose policy denies plain HTTP (CDK's enforce_ssl) and denies deleting objects
    ssl_only = {"Sid": "SslOnly", "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "s3:*",
                "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
    keep = {"Sid": "NoDeletes", "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "s3:DeleteObject",
            "Resource": {"Fn::Join": ["", [{"Fn::GetAtt": ["Bucket", "Arn"]}, "/*"]]}}
    template = {"Resources": {
        "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "documents-test"}},
        "Policy": {"Type": "AWS::S3::BucketPolicy", "Properties": {
            "Bucket": {"Ref": "Bucket"}, "PolicyDocument": {"Version": "2012-10-17", "Statement": [ssl_only, keep]}}},
    }}
    # When it is deployed (moto alone skips AWS::S3::BucketPolicy and so fails the deploy)
    deploy_template(template, "bucket")
    s3 = client("s3")
    # Then the bucket has the template's policy less the SSL-only statement (the emulator speaks
    # plain HTTP), and a client over HTTP can still write to it
    statements = json.loads(s3.get_bucket_policy(Bucket="documents-test")["Policy"])["Statement"]
    assert [st["Sid"] for st in statements] == ["NoDeletes"]
    s3.put_object(Bucket="documents-test", Key="INV-2026-000001.pdf", Body=b"%PDF-1.7")
    assert s3.get_object(Bucket="documents-test", Key="INV-2026-000001.pdf")["Body"].read() == b"%PDF-1.7"


def test_the_finance_archive_resources_are_created_and_deliver(aws: None) -> None:
    # Given the archive's resource types, which moto alone skips (a Firehose stream, its error
    # log stream, a Glue database and table), with a rule sending the bus's events to the stream
    template = {"Resources": {
        "Bus": {"Type": "AWS::Events::EventBus", "Properties": {"Name": "oms-test"}},
        "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "finance-test"}},
        "Log": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": "/aws/kinesisfirehose/archive"}},
        "LogStream": {"Type": "AWS::Logs::LogStream", "Properties": {
            "LogGroupName": {"Ref": "Log"}, "LogStreamName": "DestinationDelivery"}},
        "Stream": {"Type": "AWS::KinesisFirehose::DeliveryStream", "Properties": {
            "DeliveryStreamName": "archive", "DeliveryStreamType": "DirectPut",
            "ExtendedS3DestinationConfiguration": {
                "BucketARN": {"Fn::GetAtt": ["Bucket", "Arn"]}, "RoleARN": ROLE,
                "Prefix": "events/dt=!{timestamp:yyyy-MM-dd}/",
                "ErrorOutputPrefix": "errors/!{firehose:error-output-type}/",
                "ProcessingConfiguration": {"Enabled": True, "Processors": [{"Type": "AppendDelimiterToRecord"}]},
                "CloudWatchLoggingOptions": {"Enabled": True, "LogGroupName": {"Ref": "Log"},
                                             "LogStreamName": {"Ref": "LogStream"}}}}},
        "Rule": {"Type": "AWS::Events::Rule", "Properties": {
            "EventBusName": {"Ref": "Bus"}, "EventPattern": {"source": ["oms.invoice"]},
            "Targets": [{"Id": "archive", "Arn": {"Fn::GetAtt": ["Stream", "Arn"]}, "RoleArn": ROLE}]}},
        "Database": {"Type": "AWS::Glue::Database", "Properties": {
            "CatalogId": "123456789012", "DatabaseInput": {"Name": "oms_test_finance"}}},
        "Table": {"Type": "AWS::Glue::Table", "DependsOn": ["Database"], "Properties": {
            "CatalogId": "123456789012", "DatabaseName": "oms_test_finance", "TableInput": {
                "Name": "finance_events", "TableType": "EXTERNAL_TABLE",
                "PartitionKeys": [{"Name": "dt", "Type": "string"}],
                "Parameters": {"projection.enabled": "true"},
                "StorageDescriptor": {"Location": "s3://finance-test/events/",
                                      "Columns": [{"Name": "id", "Type": "string"}]}}}},
    }}
    # When it is deployed and a finance event is put on the bus
    deployment = deploy_template(template, "archive")
    assert deployment.physical_ids["Stream"] == "archive" and deployment.physical_ids["Table"] == "finance_events"
    client("events").put_events(Entries=[{"EventBusName": "oms-test", "Source": "oms.invoice",
                                          "DetailType": "InvoiceIssued", "Detail": json.dumps({"data": {}})}])
    # Then the event is in the bucket, one line under its day; the table is in the catalog as
    # Athena would read it, and the stream logs where the template says
    s3 = client("s3")
    (obj,) = s3.list_objects_v2(Bucket="finance-test", Prefix="events/dt=")["Contents"]
    body = s3.get_object(Bucket="finance-test", Key=obj["Key"])["Body"].read()
    assert body.endswith(b"\n") and json.loads(body)["detail-type"] == "InvoiceIssued"
    table = client("glue").get_table(DatabaseName="oms_test_finance", Name="finance_events")["Table"]
    assert table["StorageDescriptor"]["Location"] == "s3://finance-test/events/"
    assert table["PartitionKeys"] == [{"Name": "dt", "Type": "string"}]
    streams = client("logs").describe_log_streams(logGroupName="/aws/kinesisfirehose/archive")["logStreams"]
    assert [s["logStreamName"] for s in streams] == ["DestinationDelivery"]
    destination = client("firehose").describe_delivery_stream(DeliveryStreamName="archive")[
        "DeliveryStreamDescription"]["Destinations"][0]["ExtendedS3DestinationDescription"]
    assert destination["CloudWatchLoggingOptions"]["LogStreamName"] == "DestinationDelivery"


def test_a_firehose_stream_aws_would_refuse_fails_the_deploy(aws: None) -> None:
    # Given a delivery stream whose prefix has an expression but no error prefix (AWS refuses it)
    template = {"Resources": {
        "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "finance-test"}},
        "Stream": {"Type": "AWS::KinesisFirehose::DeliveryStream", "Properties": {
            "DeliveryStreamName": "archive", "DeliveryStreamType": "DirectPut",
            "ExtendedS3DestinationConfiguration": {
                "BucketARN": {"Fn::GetAtt": ["Bucket", "Arn"]}, "RoleARN": ROLE,
                "Prefix": "events/dt=!{timestamp:yyyy-MM-dd}/"}}},
    }}
    # When it is deployed, Then the deploy fails naming AWS's constraint, and no stream exists
    with pytest.raises(Exception, match="ErrorOutputPrefix cannot be null or empty when Prefix contains expressions"):
        deploy_template(template, "bad-archive")
    assert client("firehose").list_delivery_streams()["DeliveryStreamNames"] == []


def test_secrets_are_created_with_their_value_or_a_generated_one(aws: None) -> None:
    # Given a stack with a secret of a fixed value and one generated as CloudFormation would
    template = {"Resources": {
        "Fixed": {"Type": "AWS::SecretsManager::Secret", "Properties": {"Name": "app/fixed", "SecretString": "v1"}},
        "Generated": {"Type": "AWS::SecretsManager::Secret", "Properties": {
            "Name": "app/generated", "GenerateSecretString": {"PasswordLength": 48, "ExcludePunctuation": True}}},
    }}
    # When it is deployed
    deployment = deploy_template(template, "secrets")
    # Then each secret's Ref is its ARN and its value is the one asked for
    secrets = client("secretsmanager")
    fixed = secrets.get_secret_value(SecretId=deployment.physical_ids["Fixed"])
    assert fixed["Name"] == "app/fixed" and fixed["SecretString"] == "v1"
    assert deployment.physical_ids["Fixed"] == fixed["ARN"]
    generated = secrets.get_secret_value(SecretId=deployment.physical_ids["Generated"])["SecretString"]
    assert len(generated) == 48 and generated.isalnum()


def test_stop_ends_the_pollers_and_restores_the_environment(tmp_path: Path) -> None:
    # Given a stack whose function reads its table's name from the environment and is mapped
    # to a queue and to the table's stream
    before = {key: os.environ.get(key) for key in ("LC_STOP_TABLE", "OMS_ENV")}
    stream = {"StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"}}
    extra = {
        "Table": {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "KeySchema": [{"AttributeName": "PK", "KeyType": "HASH"}],
                "AttributeDefinitions": [{"AttributeName": "PK", "AttributeType": "S"}],
                "BillingMode": "PAY_PER_REQUEST",
                **stream,
            },
        },
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "stop-intake"}},
        "Consumer": api_stack.function(PROBE, LC_STOP_TABLE={"Ref": "Table"}),
        "QueueMapping": {
            "Type": "AWS::Lambda::EventSourceMapping",
            "Properties": {"EventSourceArn": {"Fn::GetAtt": ["Queue", "Arn"]}, "FunctionName": {"Ref": "Consumer"}},
        },
        "StreamMapping": {
            "Type": "AWS::Lambda::EventSourceMapping",
            "Properties": {
                "EventSourceArn": {"Fn::GetAtt": ["Table", "StreamArn"]},
                "FunctionName": {"Ref": "Consumer"},
                "StartingPosition": "TRIM_HORIZON",
            },
        },
    }
    cloud = LocalCloud(assembly=api_stack.write_assembly(tmp_path, extra), stack_name=api_stack.STACK).start()
    try:
        assert cloud.deployment is not None
        table = cloud.deployment.physical_ids["Table"]
        mappings = cloud.deployment.of_type("AWS::Lambda::EventSourceMapping").values()
        pollers = tuple(f"esm-{uuid[:8]}" for uuid in mappings)
        # When the function has run (so it set its variables) and the pollers are up
        client("sqs").send_message(QueueUrl=cloud.deployment.physical_ids["Queue"], MessageBody="m")
        cloud.settle()
        assert [e["Records"][0]["body"] for e in probe.calls(cloud.deployment.physical_ids["Consumer"])] == ["m"]
        assert os.environ["LC_STOP_TABLE"] == table
        assert len(pollers) == 2 and set(pollers) <= {t.name for t in threading.enumerate()}
    finally:
        # and the cloud stops
        cloud.stop()
    # Then no poller (or batch) thread of its mappings is left, and the environment is back
    assert [t.name for t in threading.enumerate() if t.name.startswith(pollers)] == []
    assert {key: os.environ.get(key) for key in before} == before


@pytest.mark.timeout(60)
def test_the_local_cloud_imports_no_function_module_before_a_function_runs() -> None:
    # Given a shell without the functions' settings (the template gives them, per function)
    env = {k: v for k, v in os.environ.items() if not k.startswith("POWERTOOLS_")}
    # When everything `python -m localcloud serve` loads before the first invocation is imported
    script = (
        "import sys, localcloud.__main__, localcloud.server, localcloud.clock, localcloud.demo, localcloud.seed;"
        "print(sorted(m for m in sys.modules if m.startswith('functions.') and 'handlers' in m"
        " or m.startswith('aws_lambda_powertools.logging') or m.startswith('aws_lambda_powertools.metrics')))"
    )
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=50,
                            check=True)
    # Then no Powertools logger or metrics object exists yet: one created at import time would keep
    # "service_undefined" and no namespace, and every function's first metric flush would fail
    assert result.stdout.strip() == "[]", result.stdout
