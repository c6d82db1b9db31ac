"""API shapes of the route capability (fulfilment requests and dispatch confirmations)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints


class DispatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    carrier: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    tracking_number: Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9\-_. ]+$")]


class ShipmentLineOut(BaseModel):
    line_id: str
    sku: str
    quantity: int


class ShipmentOut(BaseModel):
    shipment_id: str
    order_id: str
    node_id: str
    status: str
    lines: list[ShipmentLineOut]
    ship_to: dict[str, object]
    shipping_method: str
    requested_at: str
    carrier: str | None = None
    tracking_number: str | None = None
    dispatched_at: str | None = None


class ShipmentListOut(BaseModel):
    shipments: list[ShipmentOut]
    next_token: str | None = None
