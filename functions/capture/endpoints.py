"""HTTP routes of the capture capability (``/orders``)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from functions.core.handlers.http import principal_of, problem_responses, require_role
from functions.core.handlers.observability import MetricUnit, metrics

from .capturing import Captured
from .models import CancelIn, OrderIn, OrderListOut, OrderOut, QuoteOut, ResumeOut
from .views import order_view
from .wiring import cancellation, capture_service, order_queries, resumes

router = APIGatewayRouter()  # type: ignore[no-untyped-call]

IdempotencyKey = Annotated[str, Header(alias="Idempotency-Key", min_length=1, max_length=255,
                                       description="Client-chosen key; same key + same body replays the 201")]


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response[str]:
    return Response(status_code=status, content_type="application/json", body=json.dumps(body), headers=headers)


@router.post("/orders", summary="Capture an order", responses={201: {"description": "Captured"}},
             tags=["Orders"])
def create_order(order: Annotated[OrderIn, Body()], idempotency_key: IdempotencyKey) -> Response[str]:
    principal = require_role(router, "channel")
    # the body as sent: equal JSON means the same request
    result = capture_service().capture_request(order.to_command(), principal.principal_id, idempotency_key,
                                               router.current_event.json_body)
    return _created(result)


def _created(result: Captured) -> Response[str]:
    view = order_view(result.order)
    headers = {"Location": f"/orders/{view['order_id']}"}
    if result.replayed:
        headers["Idempotent-Replayed"] = "true"
    else:
        metrics.add_metric(name="OrdersCaptured", unit=MetricUnit.Count, value=1)
    return _json(201, view, headers)


def held_key_answer() -> Response[str] | None:
    """``POST /orders`` whose body Powertools refused (before the route ran): the key is checked
    before the body, so a key already used answers — the original 201 for the same body, 409 for
    any other, even an invalid one (API.md, Orders). Only refused requests pay for this read."""
    event = router.current_event
    key = event.headers.get("Idempotency-Key")
    if event.http_method != "POST" or (event.resource or event.path) != "/orders" or not key:
        return None
    principal = principal_of(router)
    if principal.role != "channel":
        return None
    try:
        body: Any = json.loads(event.body or "")
    except ValueError:
        body = event.body  # not JSON: never the body a key was first used with
    result = capture_service().answer_held_key(principal, key, body)
    return None if result is None else _created(result)


@router.post("/orders/quote", summary="Price an order without capturing it", response_description="Totals",
             tags=["Orders"])
def quote_order(order: Annotated[OrderIn, Body()]) -> QuoteOut:
    require_role(router, "channel", "agent")
    return QuoteOut.model_validate(capture_service().quote(order.to_command()))


@router.get("/orders/<order_id>", summary="Read an order", tags=["Orders"])
def get_order(order_id: Annotated[str, Path(max_length=64)]) -> OrderOut:
    principal = require_role(router, "channel", "agent", "finance")
    return OrderOut.model_validate(order_view(order_queries().get(order_id, principal), principal.role))


@router.get("/orders", summary="List orders, newest first", tags=["Orders"])
def list_orders(
    customer_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
    next_token: Annotated[str | None, Query(max_length=2048)] = None,
) -> OrderListOut:
    principal = require_role(router, "channel", "agent", "finance")
    orders, token = order_queries().list(principal, customer_id=customer_id, limit=limit, token=next_token)
    return OrderListOut.model_validate({"orders": orders, "next_token": token})


@router.post("/orders/<order_id>/cancel", summary="Cancel an order before dispatch", tags=["Orders"],
             responses=problem_responses(404, 409, 503))
def cancel_order(order_id: Annotated[str, Path(max_length=64)],
                 body: Annotated[CancelIn | None, Body()] = None) -> OrderOut:
    principal = require_role(router, "channel", "agent")
    reason = (body or CancelIn()).reason
    return OrderOut.model_validate(order_view(cancellation().cancel(order_id, principal, reason), principal.role))


@router.post(
    "/orders/<order_id>/resume", summary="Resume an order stuck in a non-final status (agents)", tags=["Orders"],
    description="Runs the order's owed steps now, through the same idempotent steps as the scheduled "
                "reconciler: its workflow started again (CAPTURED, BACKORDERED), a dispatched shipment "
                "invoiced or its payment captured, a missing completion, a notice never sent. 202 with the "
                "steps started (poll the order); 200 when nothing is owed (the order waits legitimately, "
                "e.g. for a node's dispatch); 409 for a COMPLETED or CANCELLED order owed nothing.",
    responses={200: {"description": "Nothing owed: what the order waits for"},
               202: {"description": "Steps started; poll the order"}, **problem_responses(404, 409, 503, ok=None)})
def resume_order(order_id: Annotated[str, Path(max_length=64)]) -> Response[ResumeOut]:
    principal = require_role(router, "agent")
    report = resumes().resume(order_id, principal)
    out = ResumeOut.model_validate({"order_id": report.order_id, "status": report.status,
                                    "resumed": bool(report.steps), "steps": list(report.steps),
                                    "waiting": report.waiting})
    if not report.steps:
        return Response(status_code=200, content_type="application/json", body=out)
    return Response(status_code=202, content_type="application/json", body=out,
                    headers={"Location": f"/orders/{report.order_id}"})
