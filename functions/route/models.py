"""API shapes of the route capability (fulfilment requests and dispatch confirmations; nodes),
mapped to the use cases' commands here."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from functions.route.nodes import SHIPPING_METHODS, NodeAddress, NodeDefinition, ShippingMethod


class _Deferred(BaseModel):
    """Validators and serializers built on first use, not at import: a function builds the
    shapes its route uses (``GET /shipments`` never builds a node's)."""

    model_config = ConfigDict(defer_build=True)


class DispatchIn(_Deferred):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    carrier: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    tracking_number: Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9\-_. ]+$")]


class ShipmentLineOut(_Deferred):
    line_id: str
    sku: str
    quantity: int


class ShipmentOut(_Deferred):
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


class ShipmentListOut(_Deferred):
    shipments: list[ShipmentOut]
    next_token: str | None = None


# -- nodes (agents) ---------------------------------------------------------------------------

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Count = Annotated[int, Field(strict=True, ge=0, le=1_000_000)]


class NodeAddressIn(_Deferred):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    line1: Text | None = None
    line2: Text | None = None
    city: Text | None = None
    postal_code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=16)] | None = None
    region: Text | None = None
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$"),
                       Field(description="ISO 3166-1 alpha-2, upper case", examples=["DE"])]


class NodeIn(_Deferred):
    """A node as an agent defines it: the whole node (PUT replaces it). The one place its fields'
    rules live: the API, ``oms nodes put`` and the local seed all read a node through it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    type: Literal["DC", "STORE", "DROP_SHIP"]
    name: Text
    address: NodeAddressIn
    priority: Annotated[Count, Field(description="Ties between equally good nodes go to the lowest")]
    cut_off: Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$"),
                       Field(description="Local time (in `timezone`) after which an order ships the next "
                                         "business day, HH:MM", examples=["15:00"])]
    timezone: Annotated[str, StringConstraints(min_length=1, max_length=64),
                        Field(description="IANA time zone of the node", examples=["Europe/Berlin"])]
    processing_days: Annotated[Count, Field(description="Business days from order to dispatch")] = 0
    daily_capacity: Annotated[Count | None, Field(description="Orders a day it can ship; null: no limit")] = None
    shipping_methods: Annotated[list[ShippingMethod], Field(min_length=1, max_length=len(SHIPPING_METHODS))] = list(
        SHIPPING_METHODS)
    accepts_returns: Annotated[bool, Field(strict=True)] = True
    active: Annotated[bool, Field(strict=True, description="An inactive node gets no new fulfilment requests")
                      ] = True

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"{value!r} is not an IANA time zone (like Europe/Berlin)") from exc
        return value

    @field_validator("shipping_methods")
    @classmethod
    def _no_repeats(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("names a shipping method twice")
        return value

    def to_command(self) -> NodeDefinition:
        a = self.address
        return NodeDefinition(
            node_type=self.type, name=self.name,
            address=NodeAddress(country=a.country, line1=a.line1, line2=a.line2, city=a.city,
                                postal_code=a.postal_code, region=a.region),
            priority=self.priority, cut_off=self.cut_off, timezone=self.timezone,
            processing_days=self.processing_days, daily_capacity=self.daily_capacity,
            shipping_methods=tuple(self.shipping_methods), accepts_returns=self.accepts_returns, active=self.active)


class NodeOut(_Deferred):
    node_id: str
    type: str
    name: str
    address: dict[str, str]
    priority: int
    cut_off: str
    timezone: str
    processing_days: int
    daily_capacity: int | None
    shipping_methods: list[str]
    accepts_returns: bool
    active: bool
    version: int
    created_at: str
    updated_at: str


class NodeListOut(_Deferred):
    nodes: list[NodeOut]
    next_token: str | None = None
