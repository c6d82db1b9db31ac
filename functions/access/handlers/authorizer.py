"""REQUEST authorizer: ``x-api-key`` → hashed key item → ``{role, principal_id}``.

Missing key → ``Unauthorized`` (401); unknown, disabled or expired key → Deny (403). An Allow covers
the whole API so a cached decision fits every route; the API functions check the role per
route. ``usageIdentifierKey`` is the key's hash: the value of its API Gateway key, which
puts the caller under its role's usage plan.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes import event_source
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerRequestEvent,
    APIGatewayAuthorizerResponse,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions import init_done
from functions.access.keys import resolve
from functions.access.wiring import authorizer_store
from functions.core.handlers.observability import MetricUnit, logger, metrics


def _header(event: APIGatewayAuthorizerRequestEvent, name: str) -> str | None:
    for key, value in (event.headers or {}).items():
        if key.lower() == name:
            return str(value)
    return None


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
@event_source(data_class=APIGatewayAuthorizerRequestEvent)
def lambda_handler(event: APIGatewayAuthorizerRequestEvent, context: LambdaContext) -> dict[str, Any]:
    value = _header(event, "x-api-key")
    if not value:
        raise Exception("Unauthorized")
    arn = event.parsed_arn
    record = resolve(authorizer_store(), value)
    principal = record.principal_id if record else "anonymous"
    response = APIGatewayAuthorizerResponse(principal_id=principal, region=arn.region,
                                            aws_account_id=arn.aws_account_id, api_id=arn.api_id, stage=arn.stage,
                                            usage_identifier_key=record.key_hash if record else None)
    if record is None:
        metrics.add_metric(name="ApiKeyRejected", unit=MetricUnit.Count, value=1)
        response.deny_all_routes()
        return response.asdict()
    response.context = {"role": record.role, "principal_id": record.principal_id}
    response.allow_all_routes()
    return response.asdict()


init_done()  # the handler is built: the init is over (functions/__init__.py)
