"""The REST API (ARCHITECTURE.md, "API Gateway (REST)").

One API, stage `v1`, API keys identified by the REQUEST authorizer (key source AUTHORIZER),
one usage plan per role, problem+json gateway responses, JSON access logs, tracing and stage
throttling. Capabilities attach their path prefixes with one call each:

    api.add_prefix("orders", capture_api_function, methods=("GET", "POST"), ...)
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.config import API_ROLES, STAGE_NAME, EnvironmentConfig
from infra.constructs.monitoring import Monitoring

API_KEY_HEADER = "x-api-key"
PROBLEM_JSON = "application/problem+json"
ERROR_MESSAGE = "$context.error.messageString"  # already a quoted JSON string: never quote it

# (response type, HTTP status or None to keep the status API Gateway chose, title).
# With "type": "about:blank" the title is the status code's reason phrase (RFC 9457 §4.2.1).
# The two defaults cover many statuses, so they carry no fixed `status` member (it is advisory,
# RFC 9457 §3.1.4, and the HTTP status line stays authoritative).
GATEWAY_RESPONSES: tuple[tuple[apigateway.ResponseType, int | None, str], ...] = (
    (apigateway.ResponseType.UNAUTHORIZED, 401, "Unauthorized"),
    (apigateway.ResponseType.ACCESS_DENIED, 403, "Forbidden"),
    (apigateway.ResponseType.INVALID_API_KEY, 403, "Forbidden"),
    (apigateway.ResponseType.MISSING_AUTHENTICATION_TOKEN, 404, "Not Found"),
    (apigateway.ResponseType.THROTTLED, 429, "Too Many Requests"),
    (apigateway.ResponseType.QUOTA_EXCEEDED, 429, "Too Many Requests"),
    (apigateway.ResponseType.BAD_REQUEST_PARAMETERS, 400, "Bad Request"),
    (apigateway.ResponseType.BAD_REQUEST_BODY, 400, "Bad Request"),
    (apigateway.ResponseType.REQUEST_TOO_LARGE, 413, "Content Too Large"),
    (apigateway.ResponseType.AUTHORIZER_FAILURE, 500, "Internal Server Error"),
    (apigateway.ResponseType.AUTHORIZER_CONFIGURATION_ERROR, 500, "Internal Server Error"),
    (apigateway.ResponseType.INTEGRATION_FAILURE, 502, "Bad Gateway"),
    (apigateway.ResponseType.INTEGRATION_TIMEOUT, 504, "Gateway Timeout"),
    (apigateway.ResponseType.DEFAULT_4_XX, None, "Client Error"),
    (apigateway.ResponseType.DEFAULT_5_XX, None, "Server Error"),
)

# One JSON object per request; never the key itself (apiKeyId is the key's id, not its value).
ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "requestTime": "$context.requestTime",
    "ip": "$context.identity.sourceIp",
    "userAgent": "$context.identity.userAgent",
    "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "path": "$context.path",
    "protocol": "$context.protocol",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "integrationLatency": "$context.integrationLatency",
    "principalId": "$context.authorizer.principalId",
    "role": "$context.authorizer.role",
    "apiKeyId": "$context.identity.apiKeyId",
    "errorType": "$context.error.responseType",
    "error": "$context.error.message",
    "xrayTraceId": "$context.xrayTraceId",
}


def problem_template(title: str, status: int | None) -> str:
    """A problem+json body whose `detail` is API Gateway's message, valid JSON once substituted."""
    members = ['"type": "about:blank"', f'"title": {json.dumps(title)}']
    if status is not None:
        members.append(f'"status": {status}')
    members.append(f'"detail": {ERROR_MESSAGE}')
    return "{" + ", ".join(members) + "}"


class Api(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        authorizer_function: lambda_.IFunction,
        monitoring: Monitoring,
    ) -> None:
        super().__init__(scope, construct_id)
        access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            log_group_name=f"/aws/apigateway/{config.api_name}/access",
            retention=config.log_retention,
            removal_policy=config.removal_policy,
        )
        self.rest_api = apigateway.RestApi(
            self,
            "RestApi",
            rest_api_name=config.api_name,
            description=f"Order Management System API ({config.name})",
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            # The authorizer returns usageIdentifierKey: usage plans meter by the caller's key.
            api_key_source_type=apigateway.ApiKeySourceType.AUTHORIZER,
            cloud_watch_role=False,  # account-level setting; never owned by an app stack
            deploy_options=apigateway.StageOptions(
                stage_name=STAGE_NAME,
                tracing_enabled=True,
                metrics_enabled=True,
                throttling_rate_limit=config.stage_throttle.rate_limit,
                throttling_burst_limit=config.stage_throttle.burst_limit,
                access_log_destination=apigateway.LogGroupLogDestination(access_logs),
                access_log_format=apigateway.AccessLogFormat.custom(json.dumps(ACCESS_LOG_FIELDS)),
            ),
        )
        # RestApi adds an `Endpoint` output of its own; the stack's outputs are the contract's.
        self.rest_api.node.try_remove_child("Endpoint")
        self.stage = self.rest_api.deployment_stage

        self.authorizer = apigateway.RequestAuthorizer(
            self,
            "ApiKeyAuthorizer",
            authorizer_name=f"{config.prefix}-api-key",
            handler=authorizer_function,
            identity_sources=[apigateway.IdentitySource.header(API_KEY_HEADER)],
            results_cache_ttl=config.authorizer_cache_ttl,
        )
        # Parameters only: request bodies are validated by the functions (pydantic), which can
        # say precisely which field is wrong.
        self.parameters_validator = self.rest_api.add_request_validator(
            "ParametersValidator",
            request_validator_name="parameters-only",
            validate_request_parameters=True,
            validate_request_body=False,
        )
        for response_type, status, title in GATEWAY_RESPONSES:
            self.rest_api.add_gateway_response(
                f"Gateway{response_type.response_type}",
                type=response_type,
                status_code=str(status) if status is not None else None,
                response_headers={"Content-Type": f"'{PROBLEM_JSON}'"},
                templates={"application/json": problem_template(title, status)},
            )
        self.public_methods: list[apigateway.Method] = []
        self.usage_plans: dict[str, apigateway.UsagePlan] = {}
        for role in API_ROLES:
            throttle = config.usage_plan_throttles[role]
            self.usage_plans[role] = self.rest_api.add_usage_plan(
                f"UsagePlan{role.capitalize()}",
                name=f"{config.prefix}-{role}",
                description=f"API keys of role '{role}' (attached at run time by key management)",
                throttle=apigateway.ThrottleSettings(rate_limit=throttle.rate_limit, burst_limit=throttle.burst_limit),
                api_stages=[apigateway.UsagePlanPerApiStage(api=self.rest_api, stage=self.stage)],
            )
        monitoring.watch_api(self.rest_api)

    @property
    def url(self) -> str:
        return self.rest_api.url

    def add_public_route(self, path: str, handler: lambda_.IFunction, *, method: str = "GET") -> None:
        """An unauthenticated route (health check, API description)."""
        resource = self.rest_api.root.resource_for_path(path)
        self.public_methods.append(resource.add_method(method, self._integration(handler), api_key_required=False))

    def add_prefix(
        self,
        prefix: str,
        handler: lambda_.IFunction,
        *,
        methods: Sequence[str] = ("ANY",),
        required_headers: Mapping[str, Sequence[str]] | None = None,
        proxy: bool = True,
    ) -> apigateway.Resource:
        """Route `/<prefix>` (`methods`) and, with `proxy`, `/<prefix>/{proxy+}` (ANY) to `handler`, authorized.

        `required_headers` maps a method to headers API Gateway must see before calling the
        function (checked by the parameters-only validator).
        """
        integration = self._integration(handler)
        resource = self.rest_api.root.add_resource(prefix)
        for method in methods:
            headers = (required_headers or {}).get(method, ())
            resource.add_method(method, integration, **self._authorized(headers))
        if proxy:
            resource.add_resource("{proxy+}").add_method("ANY", integration, **self._authorized(()))
        return resource

    def add_route(self, path: str, handler: lambda_.IFunction, *, methods: Sequence[str] = ("ANY",)
                  ) -> apigateway.Resource:
        """Route ``path`` (created as needed, e.g. ``/orders/{order_id}/returns``) to ``handler``,
        authorized. API Gateway allows one variable child per resource (``{order_id}`` or
        ``{proxy+}``, not both): a path shared by two capabilities is built from one variable
        resource, which tests/infra/test_infra_api.py checks."""
        integration = self._integration(handler)
        resource = self.rest_api.root.resource_for_path(path)
        for method in methods:
            resource.add_method(method, integration, **self._authorized(()))
        return resource

    def _authorized(self, required_headers: Sequence[str]) -> dict[str, object]:
        options: dict[str, object] = {
            "authorization_type": apigateway.AuthorizationType.CUSTOM,
            "authorizer": self.authorizer,
            "api_key_required": True,
        }
        if required_headers:
            options["request_parameters"] = {f"method.request.header.{header}": True for header in required_headers}
            options["request_validator"] = self.parameters_validator
        return options

    @staticmethod
    def _integration(handler: lambda_.IFunction) -> apigateway.LambdaIntegration:
        # allow_test_invoke=False: no extra Lambda permission per method for console test calls.
        return apigateway.LambdaIntegration(handler, proxy=True, allow_test_invoke=False)
