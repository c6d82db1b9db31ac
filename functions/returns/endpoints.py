"""HTTP routes of the returns capability (API.md "Returns")."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from functions.core.handlers.http import problem_responses, require_role
from functions.core.returns import ReturnStatus

from .models import (
    ChannelSettingsIn,
    ChannelSettingsOut,
    DecisionIn,
    ReceiptIn,
    ReturnIn,
    ReturnListOut,
    ReturnOut,
)
from .wiring import closing_service, receiving_service, return_service

router = APIGatewayRouter()  # type: ignore[no-untyped-call]

IdempotencyKey = Annotated[str | None, Header(
    alias="Idempotency-Key", min_length=1, max_length=255,
    description="Optional: the same key and body again answers the same return (201, Idempotent-Replayed)")]
ChannelPath = Annotated[str, Path(min_length=1, max_length=64)]


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response[str]:
    return Response(status_code=status, content_type="application/json", body=json.dumps(body), headers=headers)


@router.post("/orders/<order_id>/returns", summary="Authorise a return of dispatched lines", tags=["Returns"],
             responses={201: {"description": "Authorised, with its RMA number and where to send it"},
                        **problem_responses(404, 409, 503, ok=None)})
def create_return(order_id: Annotated[str, Path(max_length=64)], body: Annotated[ReturnIn, Body()],
                  idempotency_key: IdempotencyKey = None) -> Response[str]:
    principal = require_role(router, "channel", "agent")
    result = return_service().authorize(order_id, principal, body.to_command(), idempotency_key)
    headers = {"Location": f"/returns/{result.view['return_id']}"}
    if result.replayed:
        headers["Idempotent-Replayed"] = "true"
    return _json(201, ReturnOut.model_validate(result.view).model_dump(mode="json"), headers)


@router.get("/returns/<return_id>", summary="One return", tags=["Returns"], responses=problem_responses(404))
def get_return(return_id: Annotated[str, Path(max_length=80)]) -> ReturnOut:
    principal = require_role(router, "channel", "node", "agent")
    return ReturnOut.model_validate(return_service().get(return_id, principal))


@router.post("/returns/<return_id>/receive", summary="Receive (part of) a return at the node it is sent to",
             tags=["Returns"], responses=problem_responses(404, 409, 503))
def receive_return(return_id: Annotated[str, Path(max_length=80)], body: Annotated[ReceiptIn, Body()]) -> ReturnOut:
    """Resellable units go back to the node's stock in the receipt's own write (and may allocate
    backorders); damaged ones are recorded, not restocked. The same ``receipt_id`` again changes
    nothing; more than authorised is a 422."""
    principal = require_role(router, "node")
    return ReturnOut.model_validate(receiving_service().receive(return_id, principal, body.to_command()))


@router.post("/returns/<return_id>/reject", summary="Reject a return before anything of it arrived (agents)",
             tags=["Returns"], responses=problem_responses(404, 409, 503))
def reject_return(return_id: Annotated[str, Path(max_length=80)], body: Annotated[DecisionIn, Body()]) -> ReturnOut:
    """``REJECTED``: the units go back to the order's ledger (they may be returned again within
    their window). Once goods have arrived, close the return instead (409). Rejecting again
    answers the return as it is."""
    principal = require_role(router, "agent")
    return ReturnOut.model_validate(closing_service().decide(return_id, principal, "reject", body.reason))


@router.post("/returns/<return_id>/close", summary="Close a return with what arrived (agents)", tags=["Returns"],
             responses=problem_responses(404, 409, 503))
def close_return(return_id: Annotated[str, Path(max_length=80)], body: Annotated[DecisionIn, Body()]) -> ReturnOut:
    """``CLOSED``: what arrived stays credited and refunded; the units that did not arrive go back
    to the order's ledger. Only an open return (``AUTHORIZED``, ``PARTIALLY_RECEIVED``) closes;
    closing again answers the return as it is."""
    principal = require_role(router, "agent")
    return ReturnOut.model_validate(closing_service().decide(return_id, principal, "close", body.reason))


@router.get("/returns", summary="The returns coming to the calling node, oldest first", tags=["Returns"])
def list_returns(
    status: Annotated[Literal["AUTHORIZED", "PARTIALLY_RECEIVED", "RECEIVED", "REFUNDED", "EXCHANGED",
                              "REJECTED", "CLOSED"], Query()] = "AUTHORIZED",
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
    next_token: Annotated[str | None, Query(max_length=2048)] = None,
) -> ReturnListOut:
    principal = require_role(router, "node")
    returns, token = return_service().listing(principal, ReturnStatus(status), limit=limit, token=next_token)
    return ReturnListOut.model_validate({"returns": returns, "next_token": token})


@router.put("/channels/<channel>/settings", summary="A channel's settings (its return window)",
            tags=["Returns"], responses=problem_responses(503))
def put_channel_settings(channel: ChannelPath, body: Annotated[ChannelSettingsIn, Body()]) -> ChannelSettingsOut:
    require_role(router, "agent")
    settings = return_service().put_settings(channel, body.return_window_days)
    return ChannelSettingsOut.model_validate(vars(settings))


@router.get("/channels/<channel>/settings", summary="A channel's settings (agents; a channel: its own)",
            tags=["Returns"], responses=problem_responses(404))
def get_channel_settings(channel: ChannelPath) -> ChannelSettingsOut:
    principal = require_role(router, "channel", "agent")
    return ChannelSettingsOut.model_validate(vars(return_service().settings(channel, principal)))
