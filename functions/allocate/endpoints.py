"""HTTP routes of the allocate capability (``/inventory``, ``/availability``)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from functions.core.handlers.http import require_role

from .models import AvailabilityIn, AvailabilityOut, InventoryOut, StockIn, StockOut
from .wiring import inventory_service

router = APIGatewayRouter()  # type: ignore[no-untyped-call]
ANY_ROLE = ("channel", "node", "agent", "finance")
SkuPath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._\-/]*$")]
NodePath = Annotated[str, Path(min_length=1, max_length=64)]


@router.put("/inventory/<sku>/nodes/<node_id>", summary="Set a node's stock of a SKU", tags=["Inventory"])
def set_stock(sku: SkuPath, node_id: NodePath, stock: Annotated[StockIn, Body()]) -> StockOut:
    principal = require_role(router, "node", "agent")
    return StockOut.model_validate(inventory_service().set_on_hand(sku, node_id, stock.on_hand, principal))


@router.get("/inventory/<sku>", summary="Stock of a SKU at every node", tags=["Inventory"])
def get_inventory(sku: SkuPath) -> InventoryOut:
    require_role(router, *ANY_ROLE)
    return InventoryOut.model_validate(inventory_service().inventory(sku))


@router.post("/availability", summary="Can these lines ship, from where, and by when", tags=["Inventory"])
def availability(request: Annotated[AvailabilityIn, Body()]) -> AvailabilityOut:
    require_role(router, *ANY_ROLE)
    return AvailabilityOut.model_validate(inventory_service().availability(request.to_query()))
