"""HTTP routes of the route capability (``/shipments``), for nodes."""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from functions.core.handlers.http import problem_responses, require_role
from functions.core.orders import ShipmentStatus

from .models import DispatchIn, ShipmentListOut, ShipmentOut
from .wiring import fulfilment_service

router = APIGatewayRouter()  # type: ignore[no-untyped-call]


@router.get("/shipments", summary="The calling node's fulfilment requests, oldest first", tags=["Fulfilment"])
def list_shipments(
    status: Annotated[Literal["REQUESTED", "DISPATCHED", "CANCELLED"], Query()] = "REQUESTED",
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
    next_token: Annotated[str | None, Query(max_length=2048)] = None,
) -> ShipmentListOut:
    principal = require_role(router, "node")
    shipments, token = fulfilment_service().requests(principal, ShipmentStatus(status), limit=limit, token=next_token)
    return ShipmentListOut.model_validate({"shipments": shipments, "next_token": token})


@router.post("/shipments/<shipment_id>/dispatch", summary="Confirm dispatch with carrier and tracking",
             tags=["Fulfilment"], responses=problem_responses(404, 409, 503))
def dispatch(shipment_id: Annotated[str, Path(max_length=80)], body: Annotated[DispatchIn, Body()]) -> ShipmentOut:
    principal = require_role(router, "node")
    view = fulfilment_service().dispatch(shipment_id, principal, body.carrier, body.tracking_number)
    return ShipmentOut.model_validate(view)
