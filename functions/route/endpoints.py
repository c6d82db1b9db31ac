"""HTTP routes of the route capability: ``/shipments`` (nodes), ``/nodes`` (agents; a node reads itself)."""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from functions.core.handlers.http import problem_responses, require_role
from functions.core.orders import ShipmentStatus

from .models import DispatchIn, NodeIn, NodeListOut, NodeOut, ShipmentListOut, ShipmentOut
from .wiring import fulfilment_service, node_service

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


NodePath = Annotated[str, Path(min_length=1, max_length=64, description="letters, digits, '.', '_', '-'")]


@router.put("/nodes/<node_id>", summary="Create or change a fulfilment node (the whole node)", tags=["Nodes"],
            responses=problem_responses(409, 503))
def put_node(node_id: NodePath, node: Annotated[NodeIn, Body()]) -> NodeOut:
    principal = require_role(router, "agent")
    view, _ = node_service().put(node_id, node.to_command(), principal)
    return NodeOut.model_validate(view)


@router.get("/nodes", summary="The fulfilment nodes by id (a node: itself)", tags=["Nodes"])
def list_nodes(
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    next_token: Annotated[str | None, Query(max_length=2048)] = None,
) -> NodeListOut:
    principal = require_role(router, "agent", "node")
    nodes, token = node_service().listing(principal, limit=limit, token=next_token)
    return NodeListOut.model_validate({"nodes": nodes, "next_token": token})


@router.get("/nodes/<node_id>", summary="One fulfilment node", tags=["Nodes"], responses=problem_responses(404))
def get_node(node_id: NodePath) -> NodeOut:
    principal = require_role(router, "agent", "node")
    return NodeOut.model_validate(node_service().get(node_id, principal))
