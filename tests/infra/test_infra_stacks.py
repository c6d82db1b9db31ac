"""Stack shape per environment: resource counts, outputs, and the documented local differences."""

from __future__ import annotations

import json

import pytest
from cfn_template import resources

from infra.config import CONFIGS

pytestmark = pytest.mark.infra

EXPECTED_COUNTS = {
    "AWS::DynamoDB::Table": 1,
    "AWS::S3::Bucket": 2,  # the rendered invoices and credit notes; the finance archive
    "AWS::S3::BucketPolicy": 2,  # their SSL-only denies
    "AWS::Lambda::Function": 22,
    # capture / notify / invoice streams, the document queue (+ one per feed channel)
    "AWS::Lambda::EventSourceMapping": 4,
    # the order / notice / invoice streams' on-failure DLQs, the reconciler schedule's DLQ, the
    # document queue and its DLQ, the finance archive rule's DLQ (+ two per feed channel)
    "AWS::SQS::Queue": 7,
    "AWS::StepFunctions::StateMachine": 3,  # order_fulfillment, shipment_invoicing, return_processing
    "AWS::Events::EventBus": 1,
    "AWS::Events::Rule": 1,  # the bus's finance events to the archive
    "AWS::KinesisFirehose::DeliveryStream": 1,  # the finance archive, to S3
    "AWS::Glue::Database": 1,
    "AWS::Glue::Table": 1,  # finance_events, for Athena
    "AWS::ApiGateway::RestApi": 1,
    "AWS::ApiGateway::Stage": 1,
    "AWS::ApiGateway::Authorizer": 1,
    "AWS::ApiGateway::Method": 22,  # /nodes, /nodes/{id}, /orders/{id}/returns, /invoices, /customers, /finance, …
    "AWS::ApiGateway::UsagePlan": 4,
    "AWS::ApiGateway::ApiKey": 0,  # keys are made at run time by key management
    "AWS::ApiGateway::GatewayResponse": 15,
    "AWS::ApiGateway::RequestValidator": 1,
    # one per function + one per state machine + the reconciler schedule's + the archive's two
    # (Firehose writing to S3, EventBridge putting into Firehose)
    "AWS::IAM::Role": 28,
    "AWS::Scheduler::Schedule": 1,  # the reconciler's
    "AWS::SNS::Topic": 1,
    # (+ one per feed channel: its DLQ); two per workflow; the document DLQ's; six API functions' p99;
    # the archive's four (its rule's DLQ and failed invocations, Firehose freshness and S3 failures)
    "AWS::CloudWatch::Alarm": 27,
    "AWS::CloudWatch::Dashboard": 1,
}

CONTRACT_OUTPUTS = {
    "ApiId",
    "ApiStage",
    "ApiUrl",
    "TableName",
    "EventBusName",
    "DocumentBucketName",  # the rendered documents (named in the local front door's info)
    "FinanceBucketName",  # the finance archive (finance_bucket in the local front door's info)
    "OrderWorkflowArn",
    "UsagePlanChannel",
    "UsagePlanNode",
    "UsagePlanAgent",
    "UsagePlanFinance",
}


def test_resource_counts(env_template):
    env, template = env_template
    channels = len(CONFIGS[env].feed_channels)  # each: an intake queue, its DLQ and alarm, a mapping
    expected = {**EXPECTED_COUNTS,
                "AWS::Lambda::EventSourceMapping": EXPECTED_COUNTS["AWS::Lambda::EventSourceMapping"] + channels,
                "AWS::SQS::Queue": EXPECTED_COUNTS["AWS::SQS::Queue"] + 2 * channels,
                "AWS::CloudWatch::Alarm": EXPECTED_COUNTS["AWS::CloudWatch::Alarm"] + channels}
    counts = {kind: len(resources(template, kind)) for kind in EXPECTED_COUNTS}
    assert counts == expected


def test_outputs_are_exactly_the_contract(env_template):
    env, template = env_template
    # plus each feed channel's intake queue URL: `wholesale-edi` -> IntakeQueueUrlWholesaleEdi
    intake = {"IntakeQueueUrl" + "".join(p.capitalize() for p in c.split("-")) for c in CONFIGS[env].feed_channels}
    assert set(template["Outputs"]) == CONTRACT_OUTPUTS | intake
    assert "IntakeQueueUrlWholesaleEdi" in intake or env != "prod"
    buckets = {r["Metadata"]["aws:cdk:path"].split("/")[-2]: k
               for k, r in resources(template, "AWS::S3::Bucket").items()}
    assert template["Outputs"]["DocumentBucketName"]["Value"] == {"Ref": buckets["DocumentBucket"]}
    assert template["Outputs"]["FinanceBucketName"]["Value"] == {"Ref": buckets["FinanceBucket"]}


def test_no_custom_resources_anywhere(env_template):
    # moto cannot run CDK's Node.js providers; none are needed in any environment.
    _, template = env_template
    kinds = {resource["Type"] for resource in template["Resources"].values()}
    assert not {kind for kind in kinds if kind.startswith("Custom::")}
    assert "AWS::CloudFormation::CustomResource" not in kinds
    runtimes = {f["Properties"]["Runtime"] for f in resources(template, "AWS::Lambda::Function").values()}
    assert runtimes == {"python3.13"}


def test_stacks_are_environment_agnostic(env_template):
    _, template = env_template
    # (CDK's own AWS::CDK::Metadata condition lists regions; it is not ours.)
    ours = {k: r for k, r in template["Resources"].items() if r["Type"] != "AWS::CDK::Metadata"}
    text = json.dumps([ours, template["Outputs"]])
    for literal in ("123456789012", "eu-central-1", "eu-west-1", "us-east-1"):
        assert literal not in text


def test_local_differs_only_where_the_emulator_needs_it(templates):
    local = templates["local"]
    assert "BootstrapVersion" not in local.get("Parameters", {})
    assert "CheckBootstrapVersion" not in local.get("Rules", {})
    assert not resources(local, "AWS::CDK::Metadata")
    assert all("Layers" not in f["Properties"] for f in resources(local, "AWS::Lambda::Function").values())
    for env in ("dev", "staging", "prod"):
        assert "BootstrapVersion" in templates[env]["Parameters"]
        assert len(resources(templates[env], "AWS::CDK::Metadata")) == 1
