"""The REST API exactly as ARCHITECTURE.md lists it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cfn_template import Template, function_by_handler, only, resources

from infra.config import API_ROLES, CONFIGS

pytestmark = pytest.mark.infra

PUBLIC = {("/health", "GET"), ("/openapi.json", "GET"), ("/docs", "GET")}
AUTHORIZED = {("/orders", "GET"), ("/orders", "POST"), ("/orders/quote", "POST"), ("/orders/{order_id}", "GET"),
              ("/orders/{order_id}/{proxy+}", "ANY"), ("/orders/{order_id}/returns", "POST"),
              ("/returns", "GET"), ("/returns/{proxy+}", "ANY"), ("/channels/{proxy+}", "ANY"),
              ("/inventory/{proxy+}", "ANY"), ("/availability", "POST"),
              ("/shipments", "GET"), ("/shipments/{proxy+}", "ANY"),
              ("/nodes", "GET"), ("/nodes/{proxy+}", "ANY"),
              ("/invoices", "GET"), ("/invoices/{proxy+}", "ANY"),
              ("/customers/{proxy+}", "ANY"), ("/finance/{proxy+}", "ANY")}
GATEWAY_STATUSES = {
    "UNAUTHORIZED": "401",
    "ACCESS_DENIED": "403",
    "INVALID_API_KEY": "403",
    "MISSING_AUTHENTICATION_TOKEN": "404",
    "THROTTLED": "429",
    "QUOTA_EXCEEDED": "429",
    "BAD_REQUEST_PARAMETERS": "400",
    "BAD_REQUEST_BODY": "400",
    "REQUEST_TOO_LARGE": "413",
    "AUTHORIZER_FAILURE": "500",
    "AUTHORIZER_CONFIGURATION_ERROR": "500",
    "INTEGRATION_FAILURE": "502",
    "INTEGRATION_TIMEOUT": "504",
    "DEFAULT_4XX": None,  # keeps the status API Gateway chose
    "DEFAULT_5XX": None,
}


def _path(template: Template, resource_id: Any) -> str:
    if "Fn::GetAtt" in resource_id:  # the root resource
        return ""
    resource = template["Resources"][resource_id["Ref"]]["Properties"]
    return _path(template, resource["ParentId"]) + "/" + resource["PathPart"]


def _methods(template: Template) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (_path(template, m["Properties"]["ResourceId"]), m["Properties"]["HttpMethod"]): m["Properties"]
        for m in resources(template, "AWS::ApiGateway::Method").values()
    }


def test_no_resource_has_two_variable_children(env_template):
    # API Gateway refuses a deploy where one resource has two variable children ({id} and
    # {proxy+}); the local emulator does not check it, so the template is checked here
    _, template = env_template
    children: dict[str, set[str]] = {}
    for resource in resources(template, "AWS::ApiGateway::Resource").values():
        parent = _path(template, resource["Properties"]["ParentId"])
        part = resource["Properties"]["PathPart"]
        if part.startswith("{"):
            children.setdefault(parent or "/", set()).add(part)
    assert children and all(len(parts) == 1 for parts in children.values()), children


def test_rest_api_and_stage(env_template):
    env, template = env_template
    _, api = only(template, "AWS::ApiGateway::RestApi")
    assert api["Properties"]["Name"] == f"oms-{env}"
    assert api["Properties"]["ApiKeySourceType"] == "AUTHORIZER"
    _, stage = only(template, "AWS::ApiGateway::Stage")
    properties = stage["Properties"]
    assert properties["StageName"] == "v1"
    assert properties["TracingEnabled"] is True
    access_logs = {
        lid
        for lid, g in resources(template, "AWS::Logs::LogGroup").items()
        if g["Properties"]["LogGroupName"] == f"/aws/apigateway/oms-{env}/access"
    }
    assert len(access_logs) == 1 and access_logs.pop() in json.dumps(properties["AccessLogSetting"])
    access_log = json.loads(properties["AccessLogSetting"]["Format"])
    assert access_log["requestId"] == "$context.requestId"
    assert access_log["principalId"] == "$context.authorizer.principalId"
    (settings,) = properties["MethodSettings"]
    throttle = CONFIGS[env].stage_throttle
    assert settings["ThrottlingRateLimit"] == throttle.rate_limit
    assert settings["ThrottlingBurstLimit"] == throttle.burst_limit
    assert template["Outputs"]["ApiStage"]["Value"] == {
        "Ref": next(iter(resources(template, "AWS::ApiGateway::Stage")))
    }


def test_authorizer(env_template):
    env, template = env_template
    _, authorizer = only(template, "AWS::ApiGateway::Authorizer")
    properties = authorizer["Properties"]
    assert properties["Type"] == "REQUEST"
    assert properties["IdentitySource"] == "method.request.header.x-api-key"
    assert properties["AuthorizerResultTtlInSeconds"] == CONFIGS[env].authorizer_cache_ttl.to_seconds()
    authorizer_id, _ = function_by_handler(template, "functions.access.handlers.authorizer.lambda_handler")
    assert authorizer_id in json.dumps(properties["AuthorizerUri"])


def test_methods_exactly_as_the_contract(env_template):
    _, template = env_template
    methods = _methods(template)
    assert set(methods) == PUBLIC | AUTHORIZED
    authorizer_id, _ = only(template, "AWS::ApiGateway::Authorizer")
    capture_id, _ = function_by_handler(template, "functions.capture.handlers.api.lambda_handler")
    allocate_id, _ = function_by_handler(template, "functions.allocate.handlers.api.lambda_handler")
    route_id, _ = function_by_handler(template, "functions.route.handlers.api.lambda_handler")
    platform_id, _ = function_by_handler(template, "functions.platform.handlers.api.lambda_handler")
    returns_id, _ = function_by_handler(template, "functions.returns.handlers.api.lambda_handler")
    invoice_id, _ = function_by_handler(template, "functions.invoice.handlers.api.lambda_handler")
    for key, method in methods.items():
        integration = method["Integration"]
        assert integration["Type"] == "AWS_PROXY"
        # each path prefix goes to its capability's API function (an order's returns to returns)
        owner = {"/inventory": allocate_id, "/availability": allocate_id, "/shipments": route_id, "/nodes": route_id,
                 "/health": platform_id, "/openapi.json": platform_id, "/docs": platform_id,
                 "/returns": returns_id, "/channels": returns_id,
                 "/invoices": invoice_id, "/customers": invoice_id, "/finance": invoice_id,
                 }.get("/" + key[0].split("/")[1], capture_id)
        if key[0].endswith("/returns"):
            owner = returns_id
        assert owner in json.dumps(integration["Uri"]), key
        if key in PUBLIC:
            assert method["AuthorizationType"] == "NONE"
            assert method.get("ApiKeyRequired", False) is False
        else:
            assert method["AuthorizationType"] == "CUSTOM"
            assert method["AuthorizerId"] == {"Ref": authorizer_id}
            assert method["ApiKeyRequired"] is True


def test_post_orders_requires_idempotency_key_checked_by_a_parameters_only_validator(env_template):
    _, template = env_template
    methods = _methods(template)
    post = methods[("/orders", "POST")]
    assert post["RequestParameters"] == {"method.request.header.Idempotency-Key": True}
    validator_id, validator = only(template, "AWS::ApiGateway::RequestValidator")
    assert post["RequestValidatorId"] == {"Ref": validator_id}
    assert validator["Properties"]["ValidateRequestParameters"] is True
    assert validator["Properties"]["ValidateRequestBody"] is False
    for key, method in methods.items():
        if key != ("/orders", "POST"):
            assert "RequestValidatorId" not in method


def test_gateway_responses_are_problem_json(env_template):
    _, template = env_template
    responses = {
        r["Properties"]["ResponseType"]: r["Properties"]
        for r in resources(template, "AWS::ApiGateway::GatewayResponse").values()
    }
    assert set(responses) == set(GATEWAY_STATUSES)
    # $context.error.messageString is a quoted, escaped JSON string: substitute one.
    message = json.dumps('Invalid key "x"\\ with a backslash')
    for response_type, status in GATEWAY_STATUSES.items():
        properties = responses[response_type]
        assert properties.get("StatusCode") == status
        assert properties["ResponseParameters"] == {"gatewayresponse.header.Content-Type": "'application/problem+json'"}
        body = json.loads(
            properties["ResponseTemplates"]["application/json"].replace("$context.error.messageString", message)
        )
        assert body["type"] == "about:blank"
        assert body["title"]
        assert body["detail"] == json.loads(message)
        if status is None:
            assert "status" not in body
        else:
            assert body["status"] == int(status)


def test_one_usage_plan_per_role_with_its_throttle(env_template):
    env, template = env_template
    plans = resources(template, "AWS::ApiGateway::UsagePlan")
    by_name = {plan["Properties"]["UsagePlanName"]: (lid, plan) for lid, plan in plans.items()}
    assert set(by_name) == {f"oms-{env}-{role}" for role in API_ROLES}
    stage_id = next(iter(resources(template, "AWS::ApiGateway::Stage")))
    for role in API_ROLES:
        logical_id, plan = by_name[f"oms-{env}-{role}"]
        throttle = CONFIGS[env].usage_plan_throttles[role]
        assert plan["Properties"]["Throttle"] == {
            "RateLimit": throttle.rate_limit,
            "BurstLimit": throttle.burst_limit,
        }
        (api_stage,) = plan["Properties"]["ApiStages"]
        assert api_stage["Stage"] == {"Ref": stage_id}
        assert template["Outputs"][f"UsagePlan{role.capitalize()}"]["Value"] == {"Ref": logical_id}
