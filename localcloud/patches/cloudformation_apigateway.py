"""CloudFormation ``AWS::ApiGateway::RestApi`` and ``Method`` keep the properties that matter.

moto 5.2.5 creates a RestApi from ``Name``, ``Description`` and ``EndpointConfiguration``
only: ``ApiKeySourceType`` (the OMS uses AUTHORIZER) and ``BinaryMediaTypes`` are dropped. A
Method keeps only ``AuthorizationType`` and ``ApiKeyRequired``: ``AuthorizerId``,
``RequestParameters``, ``RequestValidatorId``, ``OperationName`` and ``RequestModels`` are
dropped (the front door needs all of them to play API Gateway), and a method without
``Integration.Uri``/``IntegrationHttpMethod`` (a MOCK integration, e.g. CDK's CORS preflight)
raises ``KeyError``.
"""

from __future__ import annotations

from typing import Any

from moto.apigateway.models import Method, RestAPI, apigateway_backends


def _create_rest_api(
    cls: type[RestAPI],
    resource_name: str,
    cloudformation_json: dict[str, Any],
    account_id: str,
    region_name: str,
    **kwargs: Any,
) -> RestAPI:
    properties = cloudformation_json["Properties"]
    api = apigateway_backends[account_id][region_name].create_rest_api(
        name=properties["Name"],
        description=properties.get("Description", ""),
        api_key_source=properties.get("ApiKeySourceType"),
        endpoint_configuration=properties.get("EndpointConfiguration"),
        minimum_compression_size=properties.get("MinimumCompressionSize"),
        disable_execute_api_endpoint=properties.get("DisableExecuteApiEndpoint"),
    )
    api.binaryMediaTypes = list(properties.get("BinaryMediaTypes") or [])
    return api


def _create_method(
    cls: type[Method],
    resource_name: str,
    cloudformation_json: dict[str, Any],
    account_id: str,
    region_name: str,
    **kwargs: Any,
) -> Method:
    properties = cloudformation_json["Properties"]
    backend = apigateway_backends[account_id][region_name]
    api_id, resource_id, http_method = properties["RestApiId"], properties["ResourceId"], properties["HttpMethod"]
    method = backend.put_method(
        function_id=api_id,
        resource_id=resource_id,
        method_type=http_method,
        authorization_type=properties.get("AuthorizationType", "NONE"),
        api_key_required=bool(properties.get("ApiKeyRequired", False)),
        request_parameters=properties.get("RequestParameters"),
        request_models=properties.get("RequestModels"),
        operation_name=properties.get("OperationName"),
        authorizer_id=properties.get("AuthorizerId"),
        authorization_scopes=properties.get("AuthorizationScopes"),
        request_validator_id=properties.get("RequestValidatorId"),
    )
    integration = properties.get("Integration") or {"Type": "MOCK"}
    backend.put_integration(
        function_id=api_id,
        resource_id=resource_id,
        method_type=http_method,
        integration_type=integration["Type"],
        uri=integration.get("Uri"),  # type: ignore[arg-type]
        integration_method=integration.get("IntegrationHttpMethod", http_method),
        request_templates=integration.get("RequestTemplates"),
        passthrough_behavior=integration.get("PassthroughBehavior"),
    )
    return method


def install() -> None:
    RestAPI.create_from_cloudformation_json = classmethod(_create_rest_api)  # type: ignore[assignment,method-assign]
    Method.create_from_cloudformation_json = classmethod(_create_method)  # type: ignore[assignment,method-assign]
