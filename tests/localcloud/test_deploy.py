"""Deploying a cloud assembly (localcloud.deploy)."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from localcloud.deploy import DeployError, deploy_template
from localcloud.server import LocalCloud, info
from tests.localcloud import api_stack
from tests.localcloud.support import client

pytestmark = pytest.mark.integration


def test_deploy_refuses_a_resource_moto_skips(tmp_path: Path) -> None:
    # Given a template with a resource type moto does not model and that is not allowed
    extra = {"Secret": {"Type": "AWS::SecretsManager::Secret", "Properties": {"Name": "s"}}}
    assembly = api_stack.write_assembly(tmp_path, extra)
    # Then the deploy fails loudly instead of reporting a half-created stack
    with (
        pytest.raises(DeployError, match=r"moto did not create: Secret \(AWS::SecretsManager::Secret\)"),
        LocalCloud(assembly=assembly, stack_name=api_stack.STACK),
    ):
        pass


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
        printed = []
        while not printed or printed[-1] != "OMS local stack ready":
            line = process.stdout.readline()
            assert line, f"serve exited early: {printed}"
            printed.append(line.strip())
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
    # Then every resource exists where its service shows it
    assert deployment.physical_ids["Rule"]
    assert client("cloudwatch").describe_alarms()["MetricAlarms"][0]["AlarmName"] == "dlq-not-empty"
    url = deployment.physical_ids["Queue"]
    assert "Policy" in client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]
    topic = deployment.physical_ids["Topic"]
    assert len(client("sns").list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]) == 1
