"""HTTP routes of the capture capability (``/orders``)."""

from __future__ import annotations

import json
from functools import cache
from typing import Annotated, Any, cast

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.idempotency.hook import IdempotentHookFunction
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

from functions.core.adapters.aws import client
from functions.core.errors import Conflict
from functions.core.http import require_role
from functions.core.observability import MetricUnit, metrics
from functions.core.principal import Principal
from functions.core.settings import Settings, settings

from .logic import order_view
from .models import CancelIn, OrderIn, OrderListOut, OrderOut, QuoteOut
from .service import capture_service

router = APIGatewayRouter()  # type: ignore[no-untyped-call]

IDEMPOTENCY_TTL_SECONDS = 24 * 3600
IdempotencyKey = Annotated[str, Header(alias="Idempotency-Key", min_length=1, max_length=255,
                                       description="Client-chosen key; same key + same body replays the 201")]


def _mark_replayed(response: Any, _: DataRecord) -> Any:
    return {**response, "replayed": True}


def _capture_once(request: dict[str, Any]) -> dict[str, Any]:
    principal = Principal(role="channel", principal_id=request["principal"])
    order = capture_service().capture(OrderIn.model_validate(request["body"]), principal)
    metrics.add_metric(name="OrdersCaptured", unit=MetricUnit.Count, value=1)
    return {"order": order_view(order)}


@cache
def _idempotent_capture(s: Settings) -> tuple[Any, IdempotencyConfig]:
    persistence = DynamoDBPersistenceLayer(
        table_name=s.table_name, key_attr="PK", sort_key_attr="SK",
        static_pk_value="IDEMPOTENCY#capture", expiry_attr="expires_at",
        boto3_client=client("dynamodb"),
    )
    config = IdempotencyConfig(
        event_key_jmespath="[principal, key]",  # scoped per principal
        payload_validation_jmespath="body",  # same key, other body -> 409
        expires_after_seconds=IDEMPOTENCY_TTL_SECONDS,
        raise_on_no_idempotency_key=True,
        response_hook=cast(IdempotentHookFunction, _mark_replayed),
    )
    capture = idempotent_function(data_keyword_argument="request", persistence_store=persistence,
                                  config=config)(_capture_once)
    return capture, config


def capture_idempotently(channel: str, key: str, body: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Capture once per (channel, key); the same key with another body is a conflict."""
    capture, config = _idempotent_capture(settings())
    if context is not None:
        config.register_lambda_context(context)  # in-progress records expire with the invocation
    try:
        result: dict[str, Any] = capture(request={"principal": channel, "key": key, "body": body})
    except IdempotencyValidationError as exc:
        raise Conflict("Idempotency-Key was already used with a different body") from exc
    except IdempotencyAlreadyInProgressError as exc:
        raise Conflict("a request with this Idempotency-Key is still in progress; retry shortly") from exc
    return result


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response[str]:
    return Response(status_code=status, content_type="application/json", body=json.dumps(body), headers=headers)


@router.post("/orders", summary="Capture an order", responses={201: {"description": "Captured"}},
             tags=["Orders"])
def create_order(order: Annotated[OrderIn, Body()], idempotency_key: IdempotencyKey) -> Response[str]:
    principal = require_role(router, "channel")
    # the body as sent: equal JSON means the same request
    result = capture_idempotently(principal.principal_id, idempotency_key, router.current_event.json_body,
                                  router.lambda_context)
    view = result["order"]
    headers = {"Location": f"/orders/{view['order_id']}"}
    if result.get("replayed"):
        headers["Idempotent-Replayed"] = "true"
    return _json(201, view, headers)


@router.post("/orders/quote", summary="Price an order without capturing it", response_description="Totals",
             tags=["Orders"])
def quote_order(order: Annotated[OrderIn, Body()]) -> QuoteOut:
    require_role(router, "channel", "agent")
    return QuoteOut.model_validate(capture_service().quote(order))


@router.get("/orders/<order_id>", summary="Read an order", tags=["Orders"])
def get_order(order_id: Annotated[str, Path(max_length=64)]) -> OrderOut:
    principal = require_role(router, "channel", "agent", "finance")
    return OrderOut.model_validate(order_view(capture_service().get(order_id, principal)))


@router.get("/orders", summary="List orders, newest first", tags=["Orders"])
def list_orders(
    customer_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
    next_token: Annotated[str | None, Query(max_length=2048)] = None,
) -> OrderListOut:
    principal = require_role(router, "channel", "agent", "finance")
    orders, token = capture_service().list(principal, customer_id=customer_id, limit=limit, token=next_token)
    return OrderListOut.model_validate({"orders": orders, "next_token": token})


@router.post("/orders/<order_id>/cancel", summary="Cancel an order before dispatch", tags=["Orders"])
def cancel_order(order_id: Annotated[str, Path(max_length=64)],
                 body: Annotated[CancelIn | None, Body()] = None) -> OrderOut:
    principal = require_role(router, "channel", "agent")
    reason = (body or CancelIn()).reason
    return OrderOut.model_validate(order_view(capture_service().cancel(order_id, principal, reason)))
