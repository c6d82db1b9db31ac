"""Invoices as the domain sees them: one per dispatched shipment, amounts that add up exactly.

Rules (API.md "Money, tax and shipping", "Finance"):
- A shipment's invoice bills the units it carried at the order's unit prices. Net is exact
  (unit price × quantity). A line's tax was rounded once, for the whole line, at capture; when a
  line is split over shipments its tax is shared out by quantity, each part rounded half-up
  and the line's last part (by shipment number) taking the remainder. So every line's parts,
  and every order's invoices, sum to the order's figures to the cent.
- Shipping (net and tax) is billed on the first invoice issued for the order.
- Numbers are ``INV-<UTC year>-<6 digits>``, gapless per legal entity and year: the number is
  taken from a counter in the same transaction that writes the invoice.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from .money import fmt, round_money
from .orders import Order, OrderLine, Shipment, ShipmentStatus


class PaymentStatus(StrEnum):
    PENDING = "PENDING"  # issued, not yet captured
    CAPTURED = "CAPTURED"  # the invoice's gross was captured from the card authorisation
    ON_ACCOUNT = "ON_ACCOUNT"  # B2B: the invoice is the payment request, nothing to capture
    FAILED = "FAILED"  # the provider refused; finance has the order on its review list


SETTLED = frozenset({PaymentStatus.CAPTURED, PaymentStatus.ON_ACCOUNT})


@dataclass(frozen=True)
class Invoice:
    invoice_number: str
    order_id: str
    shipment_id: str
    legal_entity: str
    currency: str
    issued_at: str
    #: The units this invoice bills, as order lines (net and tax of just these units).
    lines: tuple[OrderLine, ...]
    shipping_net: Decimal
    shipping_tax: Decimal
    net: Decimal
    tax: Decimal
    gross: Decimal
    payment_status: PaymentStatus = PaymentStatus.PENDING
    payment_reference: str | None = None
    settled_at: str | None = None
    kind: str = "invoice"

    @property
    def year(self) -> int:
        return int(self.issued_at[:4])


def invoice_number(year: int, n: int) -> str:
    if not 0 < n < 1_000_000:
        raise ValueError(f"invoice sequence {n} outside 1..999999")
    return f"INV-{year}-{n:06d}"


def billed_shipments(order: Order) -> list[Shipment]:
    """The shipments that will carry an invoice (all but withdrawn ones), by shipment number."""
    live = [s for s in order.shipments if s.status != ShipmentStatus.CANCELLED]
    return sorted(live, key=lambda s: int(s.shipment_id.rsplit("-", 1)[1]))


def bill(order: Order, shipment: Shipment, *, number: str, issued_at: str, legal_entity: str,
         with_shipping: bool) -> Invoice:
    """The invoice for ``shipment`` (see the module docstring for the rules)."""
    currency = order.currency
    shipments = billed_shipments(order)
    lines = []
    for line in order.lines:
        parts = [(s.shipment_id, sum(sl.quantity for sl in s.lines if sl.line_id == line.line_id))
                 for s in shipments]
        parts = [(sid, qty) for sid, qty in parts if qty]
        mine = next((qty for sid, qty in parts if sid == shipment.shipment_id), 0)
        if not mine:
            continue
        taxes = _share(line.tax, [qty for _, qty in parts], line.quantity, currency)
        tax = taxes[[sid for sid, _ in parts].index(shipment.shipment_id)]
        lines.append(OrderLine(line_id=line.line_id, sku=line.sku, quantity=mine, unit_price=line.unit_price,
                                 tax_class=line.tax_class, net=line.unit_price * mine, tax=tax))
    if not lines:
        raise ValueError(f"shipment {shipment.shipment_id} carries no line of order {order.order_id}")
    shipping_net = order.totals.shipping if with_shipping else Decimal(0)
    shipping_tax = order.totals.shipping_tax if with_shipping else Decimal(0)
    net = sum((ln.net for ln in lines), Decimal(0)) + shipping_net
    tax = sum((ln.tax for ln in lines), Decimal(0)) + shipping_tax
    return Invoice(invoice_number=number, order_id=order.order_id, shipment_id=shipment.shipment_id,
                   legal_entity=legal_entity, currency=currency, issued_at=issued_at, lines=tuple(lines),
                   shipping_net=shipping_net, shipping_tax=shipping_tax, net=net, tax=tax, gross=net + tax)


def _share(total: Decimal, quantities: list[int], of: int, currency: str) -> list[Decimal]:
    """``total`` shared by quantity; every part but the last rounded, the last the remainder."""
    parts = [round_money(total * q / of, currency) for q in quantities[:-1]]
    return [*parts, total - sum(parts, Decimal(0))]


def invoice_view(inv: Invoice) -> dict[str, Any]:
    """The invoice as API.md shows it (``invoices[]`` of an order, ``GET /invoices``)."""
    c = inv.currency
    return {"invoice_number": inv.invoice_number, "kind": inv.kind, "order_id": inv.order_id,
            "shipment_id": inv.shipment_id, "legal_entity": inv.legal_entity, "issued_at": inv.issued_at,
            "currency": c, "net": fmt(inv.net, c), "tax": fmt(inv.tax, c), "gross": fmt(inv.gross, c),
            "total": fmt(inv.gross, c), "payment_status": inv.payment_status.value,
            "payment_reference": inv.payment_reference}
