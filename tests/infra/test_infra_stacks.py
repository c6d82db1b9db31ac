"""Stack shape per environment: resource counts, outputs, and the documented local differences."""

from __future__ import annotations

import json

import pytest
from cfn_template import resources

pytestmark = pytest.mark.infra

EXPECTED_COUNTS = {
    "AWS::DynamoDB::Table": 1,
    "AWS::Lambda::Function": 15,
    "AWS::Lambda::EventSourceMapping": 4,  # order intake, capture / notify / invoice streams
    "AWS::SQS::Queue": 5,  # order-intake, its DLQ, the order / notice / invoice streams' on-failure DLQs
    "AWS::StepFunctions::StateMachine": 2,  # order_fulfillment, shipment_invoicing
    "AWS::Events::EventBus": 1,
    "AWS::ApiGateway::RestApi": 1,
    "AWS::ApiGateway::Stage": 1,
    "AWS::ApiGateway::Authorizer": 1,
    "AWS::ApiGateway::Method": 10,
    "AWS::ApiGateway::UsagePlan": 4,
    "AWS::ApiGateway::ApiKey": 0,  # keys are made at run time by key management
    "AWS::ApiGateway::GatewayResponse": 15,
    "AWS::ApiGateway::RequestValidator": 1,
    "AWS::IAM::Role": 17,  # one per function + one per state machine
    "AWS::SNS::Topic": 1,
    "AWS::CloudWatch::Alarm": 17,
    "AWS::CloudWatch::Dashboard": 1,
}

CONTRACT_OUTPUTS = {
    "ApiId",
    "ApiStage",
    "ApiUrl",
    "TableName",
    "EventBusName",
    "OrderWorkflowArn",
    "OrderIntakeQueueUrl",
    "UsagePlanChannel",
    "UsagePlanNode",
    "UsagePlanAgent",
    "UsagePlanFinance",
}


def test_resource_counts(env_template):
    _, template = env_template
    counts = {kind: len(resources(template, kind)) for kind in EXPECTED_COUNTS}
    assert counts == EXPECTED_COUNTS


def test_outputs_are_exactly_the_contract(env_template):
    _, template = env_template
    assert set(template["Outputs"]) == CONTRACT_OUTPUTS


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
