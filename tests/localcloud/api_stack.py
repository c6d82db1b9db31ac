"""A small cloud assembly that follows the API contract of docs/ARCHITECTURE.md.

Hand-written (no CDK) so the front door and deploy tests do not depend on infra/: a REST API
with API key source AUTHORIZER, a REQUEST authorizer on every method but GET /health, a
required Idempotency-Key header on POST /orders checked by a parameters-only validator, a usage
plan with one key, problem+json gateway responses, and the capture-API shape of resources.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

ASSET_BUCKET = "cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}"
ASSET_KEY = "lambdas.zip"
STACK = "Oms-test"
LAMBDAS = Path(__file__).parent / "lambdas"


def function(handler: str, **environment: Any) -> dict[str, Any]:
    """A function of the stack's asset (``OMS_ENV=test`` plus ``environment``)."""
    return {
        "Type": "AWS::Lambda::Function",
        "Properties": {
            "Runtime": "python3.12",
            "Handler": handler,
            "Role": {"Fn::GetAtt": ["FnRole", "Arn"]},
            "Code": {"S3Bucket": {"Fn::Sub": ASSET_BUCKET}, "S3Key": ASSET_KEY},
            "Environment": {"Variables": {"OMS_ENV": "test", **environment}},
        },
    }


def _uri(function: str) -> dict[str, Any]:
    path = f"path/2015-03-31/functions/${{{function}.Arn}}/invocations"
    return {"Fn::Sub": "arn:aws:apigateway:${AWS::Region}:lambda:" + path}


def _method(resource: dict[str, Any], verb: str, authorized: bool = True, **extra: Any) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "RestApiId": {"Ref": "Api"},
        "ResourceId": resource,
        "HttpMethod": verb,
        "AuthorizationType": "CUSTOM" if authorized else "NONE",
        "ApiKeyRequired": authorized,
        "Integration": {"Type": "AWS_PROXY", "IntegrationHttpMethod": "POST", "Uri": _uri("ApiFn")},
        **extra,
    }
    if authorized:
        properties["AuthorizerId"] = {"Ref": "Authorizer"}
    return {"Type": "AWS::ApiGateway::Method", "Properties": properties}


def _problem(response_type: str, title: str, status: int | None = None) -> dict[str, Any]:
    """A problem+json gateway response as infra/constructs/api.py writes it (``problem_template``,
    copied as text: these tests do not import aws_cdk): the title is fixed, ``detail`` is API
    Gateway's message (``messageString`` is already a quoted JSON string). The DEFAULT_* ones keep
    each type's own status (setting theirs would change the status of every response they stand
    in for, as on AWS) and so have no ``status`` member."""
    members = ['"type": "about:blank"', f'"title": {json.dumps(title)}']
    if status is not None:
        members.append(f'"status": {status}')
    members.append('"detail": $context.error.messageString')
    properties: dict[str, Any] = {
        "RestApiId": {"Ref": "Api"},
        "ResponseType": response_type,
        "ResponseParameters": {"gatewayresponse.header.Content-Type": "'application/problem+json'"},
        "ResponseTemplates": {"application/json": "{" + ", ".join(members) + "}"},
    }
    if status is not None:
        properties["StatusCode"] = str(status)
    return {"Type": "AWS::ApiGateway::GatewayResponse", "Properties": properties}


def template() -> dict[str, Any]:
    root = {"Fn::GetAtt": ["Api", "RootResourceId"]}
    methods = ["HealthGet", "OrdersGet", "OrdersPost", "ProxyAny"]
    return {
        "Resources": {
            "FnRole": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": {
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "lambda.amazonaws.com"},
                                "Action": "sts:AssumeRole",
                            }
                        ]
                    }
                },
            },
            "ApiFn": function("tests.localcloud.lambdas.api.lambda_handler"),
            "AuthorizerFn": function("tests.localcloud.lambdas.authorizer.lambda_handler"),
            "Api": {
                "Type": "AWS::ApiGateway::RestApi",
                "Properties": {"Name": "oms-test", "ApiKeySourceType": "AUTHORIZER", "BinaryMediaTypes": ["image/png"]},
            },
            "Authorizer": {
                "Type": "AWS::ApiGateway::Authorizer",
                "Properties": {
                    "RestApiId": {"Ref": "Api"},
                    "Name": "keys",
                    "Type": "REQUEST",
                    "IdentitySource": "method.request.header.x-api-key",
                    "AuthorizerResultTtlInSeconds": 300,
                    "AuthorizerUri": _uri("AuthorizerFn"),
                },
            },
            "Validator": {
                "Type": "AWS::ApiGateway::RequestValidator",
                "Properties": {
                    "RestApiId": {"Ref": "Api"},
                    "ValidateRequestParameters": True,
                    "ValidateRequestBody": False,
                },
            },
            "Health": {
                "Type": "AWS::ApiGateway::Resource",
                "Properties": {"RestApiId": {"Ref": "Api"}, "ParentId": root, "PathPart": "health"},
            },
            "Orders": {
                "Type": "AWS::ApiGateway::Resource",
                "Properties": {"RestApiId": {"Ref": "Api"}, "ParentId": root, "PathPart": "orders"},
            },
            "Proxy": {
                "Type": "AWS::ApiGateway::Resource",
                "Properties": {"RestApiId": {"Ref": "Api"}, "ParentId": {"Ref": "Orders"}, "PathPart": "{proxy+}"},
            },
            "HealthGet": _method({"Ref": "Health"}, "GET", authorized=False),
            "OrdersGet": _method({"Ref": "Orders"}, "GET"),
            "OrdersPost": _method(
                {"Ref": "Orders"},
                "POST",
                RequestParameters={"method.request.header.Idempotency-Key": True},
                RequestValidatorId={"Ref": "Validator"},
            ),
            "ProxyAny": _method({"Ref": "Proxy"}, "ANY"),
            "Deployment": {
                "Type": "AWS::ApiGateway::Deployment",
                "DependsOn": methods,
                "Properties": {"RestApiId": {"Ref": "Api"}},
            },
            "Stage": {
                "Type": "AWS::ApiGateway::Stage",
                "Properties": {"RestApiId": {"Ref": "Api"}, "StageName": "v1", "DeploymentId": {"Ref": "Deployment"}},
            },
            "Plan": {
                "Type": "AWS::ApiGateway::UsagePlan",
                "DependsOn": ["Stage"],
                "Properties": {"UsagePlanName": "channel", "ApiStages": [{"ApiId": {"Ref": "Api"}, "Stage": "v1"}]},
            },
            "Key": {
                "Type": "AWS::ApiGateway::ApiKey",
                "Properties": {"Name": "webshop", "Enabled": True, "Value": "local-channel-key-0001"},
            },
            "PlanKey": {
                "Type": "AWS::ApiGateway::UsagePlanKey",
                "Properties": {"KeyId": {"Ref": "Key"}, "KeyType": "API_KEY", "UsagePlanId": {"Ref": "Plan"}},
            },
            "Unauthorized": _problem("UNAUTHORIZED", "Unauthorized", 401),
            "Missing": _problem("MISSING_AUTHENTICATION_TOKEN", "Not Found", 404),
            "BadParameters": _problem("BAD_REQUEST_PARAMETERS", "Bad Request", 400),
            "Default4xx": _problem("DEFAULT_4XX", "Client Error"),
            "Default5xx": _problem("DEFAULT_5XX", "Server Error"),
        },
        "Outputs": {"ApiId": {"Value": {"Ref": "Api"}}, "ApiStage": {"Value": {"Ref": "Stage"}}},
    }


def write_assembly(directory: Path, resources: dict[str, Any] | None = None) -> Path:
    """Write a CDK-shaped cloud assembly (manifest, template, assets manifest, asset folder)."""
    body = template()
    body["Resources"].update(resources or {})
    asset = directory / "asset.lambdas"
    package = asset / "tests" / "localcloud" / "lambdas"
    shutil.copytree(LAMBDAS, package, ignore=shutil.ignore_patterns("__pycache__"))
    for parent in (asset / "tests", asset / "tests" / "localcloud"):
        (parent / "__init__.py").write_text("")
    (directory / f"{STACK}.template.json").write_text(json.dumps(body))
    assets = {
        "version": "39.0.0",
        "files": {
            "lambdas": {
                "source": {"path": "asset.lambdas", "packaging": "zip"},
                "destinations": {"current": {"bucketName": ASSET_BUCKET, "objectKey": ASSET_KEY}},
            }
        },
    }
    (directory / f"{STACK}.assets.json").write_text(json.dumps(assets))
    manifest = {
        "version": "39.0.0",
        "artifacts": {
            f"{STACK}.assets": {"type": "cdk:asset-manifest", "properties": {"file": f"{STACK}.assets.json"}},
            STACK: {
                "type": "aws:cloudformation:stack",
                "properties": {"templateFile": f"{STACK}.template.json"},
                "dependencies": [f"{STACK}.assets"],
            },
        },
    }
    (directory / "manifest.json").write_text(json.dumps(manifest))
    return directory
