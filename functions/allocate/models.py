"""API shapes of the allocate capability (inventory and availability)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from functions.allocate.inventory import AvailabilityQuery

Sku = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64,
                                       pattern=r"^[A-Za-z0-9][A-Za-z0-9._\-/]*$")]


class StockIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    on_hand: Annotated[int, Field(strict=True, ge=0, le=1_000_000_000, description="Units physically at the node")]


class StockOut(BaseModel):
    sku: str
    node_id: str
    on_hand: int
    reserved: int
    available: int
    updated_at: str | None = None


class InventoryOut(BaseModel):
    sku: str
    nodes: list[StockOut]
    available: int


class AvailabilityLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sku: Sku
    quantity: Annotated[int, Field(strict=True, ge=1, le=10_000)]


class DestinationIn(BaseModel):
    """The order's shipping address; only the country matters for availability."""

    model_config = ConfigDict(extra="ignore")
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]


class AvailabilityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lines: list[AvailabilityLineIn] = Field(min_length=1, max_length=250)
    shipping_address: DestinationIn
    shipping_method: Literal["standard", "express"] = "standard"

    def to_query(self) -> AvailabilityQuery:
        return AvailabilityQuery(lines=tuple((ln.sku, ln.quantity) for ln in self.lines),
                                 country=self.shipping_address.country, shipping_method=self.shipping_method)


class AvailabilityLineOut(BaseModel):
    sku: str
    quantity: int
    available: bool
    node_id: str | None
    promised_delivery_date: str | None


class AvailabilityOut(BaseModel):
    lines: list[AvailabilityLineOut]
