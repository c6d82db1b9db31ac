"""The order as the domain sees it: entities, statuses and the transitions between them.

Entities are plain dataclasses; API models (capability ``models.py``) and DynamoDB item shapes
(adapters) are separate classes mapped explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from .sourcing import Allocation
from .taxes import TaxTreatment

if TYPE_CHECKING:
    from .invoices import CreditNote, Invoice
    from .returns import Return


class OrderStatus(StrEnum):
    CAPTURED = "CAPTURED"
    ALLOCATED = "ALLOCATED"
    BACKORDERED = "BACKORDERED"
    IN_FULFILLMENT = "IN_FULFILLMENT"
    PARTIALLY_SHIPPED = "PARTIALLY_SHIPPED"
    SHIPPED = "SHIPPED"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"


#: Legal transitions: the one table every status-changing write is built from (the write
#: conditions come from ``sources``, core/adapters/transitions.py) and the use cases' status
#: sets are read from. Anything else is refused (409), never silently applied.
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    # Reserve takes the stock and requests the shipments in one write: CAPTURED -> IN_FULFILLMENT
    OrderStatus.CAPTURED: frozenset({OrderStatus.IN_FULFILLMENT, OrderStatus.BACKORDERED, OrderStatus.CANCELLED}),
    # stock arrived for a backordered order (API.md): reserved and requested, as from CAPTURED
    OrderStatus.BACKORDERED: frozenset({OrderStatus.IN_FULFILLMENT, OrderStatus.CANCELLED}),
    # ALLOCATED (allocated, not yet requested) is a status of API.md's contract that no write
    # produces: Reserve requests the shipments in the same write. It has no transitions.
    OrderStatus.ALLOCATED: frozenset(),
    OrderStatus.IN_FULFILLMENT: frozenset(
        {OrderStatus.PARTIALLY_SHIPPED, OrderStatus.SHIPPED, OrderStatus.CANCELLED}
    ),
    # another shipment of a partly shipped order dispatched, not yet the last
    OrderStatus.PARTIALLY_SHIPPED: frozenset({OrderStatus.PARTIALLY_SHIPPED, OrderStatus.SHIPPED}),
    OrderStatus.SHIPPED: frozenset({OrderStatus.COMPLETED}),
    OrderStatus.COMPLETED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
}


def sources(target: OrderStatus) -> frozenset[OrderStatus]:
    """The statuses an order may move into ``target`` from."""
    return frozenset(s for s, nxt in TRANSITIONS.items() if target in nxt)


def reachable(start: OrderStatus) -> frozenset[OrderStatus]:
    """Every status an order in ``start`` can come to, by any number of transitions."""
    seen: set[OrderStatus] = set()
    todo = [start]
    while todo:
        for nxt in TRANSITIONS[todo.pop()] - seen:
            seen.add(nxt)
            todo.append(nxt)
    return frozenset(seen)


#: Statuses from which a cancel is still possible (nothing dispatched yet).
CANCELLABLE = sources(OrderStatus.CANCELLED)


class CancelReason(StrEnum):
    CUSTOMER = "CUSTOMER"
    FRAUD = "FRAUD"
    INVENTORY = "INVENTORY"
    STAFF = "STAFF"
    OTHER = "OTHER"


@dataclass(frozen=True)
class Customer:
    customer_id: str
    email: str
    phone: str | None = None
    locale: str = "en"
    name: str | None = None
    #: a business customer's VAT number (with its country prefix), as sent
    vat_id: str | None = None


@dataclass(frozen=True)
class Address:
    name: str
    line1: str
    city: str
    postal_code: str
    country: str
    line2: str | None = None
    region: str | None = None
    company: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class OrderLine:
    line_id: str
    sku: str
    quantity: int
    unit_price: Decimal
    tax_class: str
    net: Decimal
    tax: Decimal
    #: false: captured as never returnable (API.md, ``lines[].returnable``)
    returnable: bool = True


@dataclass(frozen=True)
class Payment:
    method: str  # "card" | "on_account" | "none" (an exchange's replacement: nothing to pay)
    amount: Decimal | None = None
    authorization_id: str | None = None


@dataclass(frozen=True)
class Totals:
    subtotal: Decimal
    shipping: Decimal
    shipping_tax: Decimal
    tax: Decimal
    total: Decimal


@dataclass(frozen=True)
class TimelineEntry:
    at: str
    event: str
    detail: dict[str, Any] = field(default_factory=dict)


class ShipmentStatus(StrEnum):
    REQUESTED = "REQUESTED"
    DISPATCHED = "DISPATCHED"
    CANCELLED = "CANCELLED"


@dataclass(frozen=True)
class ShipmentLine:
    line_id: str
    sku: str
    quantity: int


@dataclass(frozen=True)
class Shipment:
    """What one node ships of an order: a fulfilment request until it is dispatched."""

    shipment_id: str
    order_id: str
    node_id: str
    status: ShipmentStatus
    lines: tuple[ShipmentLine, ...]
    requested_at: str
    carrier: str | None = None
    tracking_number: str | None = None
    dispatched_at: str | None = None


def shipment_id_for(order_id: str, n: int) -> str:
    """``shp_<order ulid>-<n>``: derived, so a repeated Reserve makes the same shipments and a
    dispatch finds its order without an index."""
    return f"shp_{order_id.removeprefix('ord_')}-{n}"


def order_id_of(shipment_id: str) -> str | None:
    if not shipment_id.startswith("shp_") or "-" not in shipment_id:
        return None
    return "ord_" + shipment_id.removeprefix("shp_").rsplit("-", 1)[0]


def request_view(s: Shipment, ship_to: dict[str, Any], shipping_method: str) -> dict[str, Any]:
    """The fulfilment request as a node sees it (API.md, "Fulfilment")."""
    return {"shipment_id": s.shipment_id, "order_id": s.order_id, "node_id": s.node_id, "status": s.status.value,
            "lines": [{"line_id": ln.line_id, "sku": ln.sku, "quantity": ln.quantity} for ln in s.lines],
            "ship_to": ship_to, "shipping_method": shipping_method, "requested_at": s.requested_at,
            "carrier": s.carrier, "tracking_number": s.tracking_number, "dispatched_at": s.dispatched_at}


class PartStatus(StrEnum):
    """Where the stock of one part of a large order's reservation is."""

    RESERVED = "RESERVED"
    #: taken off the shelf by a dispatch of its shipment (a chunked dispatch in progress or done)
    SHIPPED = "SHIPPED"


@dataclass(frozen=True)
class ReservationPart:
    """One part of the reservation of an order too large for one transaction: the stock records
    of one node (at most ``PART_RECORDS``) that one transaction reserved for one workflow
    execution. Released parts no longer exist."""

    execution_id: str
    number: int
    node_id: str
    status: PartStatus
    lines: tuple[Allocation, ...]


@dataclass(frozen=True)
class NoticeRecord:
    """A notice's claim as stored (``NOTICE#<kind>#<ref>``): each channel's status (SENDING,
    SENT, SKIPPED, WITHDRAWN) and until when the claim holds a SENDING channel (its lease)."""

    kind: str
    #: What it is about beyond the order: the shipment, return or credit note (None: the order).
    ref: str | None
    channels: dict[str, str] = field(default_factory=dict)
    lease_until: str | None = None
    superseded: bool = False


@dataclass(frozen=True)
class Order:
    order_id: str
    channel: str
    status: OrderStatus
    version: int
    currency: str
    customer: Customer
    lines: tuple[OrderLine, ...]
    shipping_address: Address
    shipping_method: str
    payment: Payment
    totals: Totals
    created_at: str
    updated_at: str
    channel_order_id: str | None = None
    cancel_reason: str | None = None
    #: The return this order replaces goods of (an exchange's replacement order, at no charge).
    exchange_for: str | None = None
    #: How it is taxed (decided at capture); None: read from an order captured before tax schemes
    #: (taxed at its destination's rates).
    tax: TaxTreatment | None = None
    #: The customer's purchase order number, printed on every document (EN 16931 BT-13).
    purchase_order_number: str | None = None
    timeline: tuple[TimelineEntry, ...] = ()
    #: The reserved plan (set by Reserve): which node holds which units of each line.
    allocations: tuple[Allocation, ...] = ()
    shipments: tuple[Shipment, ...] = ()
    invoices: tuple[Invoice, ...] = ()
    #: Credit notes of received returns, by number (kept apart from ``invoices``, which the
    #: billing and the completion count; the view lists both)
    credit_notes: tuple[CreditNote, ...] = ()
    returns: tuple[Return, ...] = ()
    #: units per line id returned or on their way back (the return ledger)
    returning: dict[str, int] = field(default_factory=dict)
    #: the return ledger's version as read (every writer of the ledger moves it on; 0: none yet)
    ledger_version: int = 0
    #: Invoicing steps that failed for good and wait for finance (``FLAG#`` items).
    finance_reviews: tuple[dict[str, Any], ...] = ()
    #: When the payment hold (card authorisation, on-account credit) of a cancelled order was released.
    payment_released_at: str | None = None
    #: The parts of a large order's reservation (each its own transaction; none for an order
    #: reserved in one): every part still holding or shipping stock, of any execution.
    reservation_parts: tuple[ReservationPart, ...] = ()
    #: The claims of the notices told (or being told) about the order.
    notices: tuple[NoticeRecord, ...] = ()
    #: When the reconciler is due to check the order (GSI4); None once the order is final.
    check_after: str | None = None

    def with_status(self, status: OrderStatus, *, at: str) -> Order:
        return replace(self, status=status, version=self.version + 1, updated_at=at)

    def visible_to(self, role: str, principal_id: str) -> bool:
        """A channel sees only its own orders; agents and finance see all."""
        if role == "channel":
            return self.channel == principal_id
        return role in ("agent", "finance")
