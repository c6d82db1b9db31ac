"""Billing rules: what a dispatched shipment's invoice bills, and its number. No AWS here.

Rules (API.md "Money, tax and shipping", "Finance"):
- A shipment's invoice bills the units it carried at the order's unit prices. Net is exact
  (unit price × quantity). A line's tax was rounded once, for the whole line, at capture; when a
  line is split over shipments its tax is shared out by quantity, each part rounded half-up
  and the line's last part (by shipment number) taking the remainder. So every line's parts,
  and every order's invoices, sum to the order's figures to the cent.
- Shipping (net and tax) is billed on the first invoice issued for the order.
- On account, an invoice is due on its UTC issue date plus the account's payment terms (30 days
  when the account names none), printed on it and kept as its open item's due date.
- Numbers are ``INV-<UTC year>-<6 digits>``, gapless per legal entity and year: the number is
  taken from a counter in the same transaction that writes the invoice.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from functions.core.invoices import Invoice
from functions.core.money import round_money
from functions.core.orders import Order, OrderLine, Shipment, ShipmentStatus

#: Days an on-account invoice is due after its issue date when the account names no terms (and
#: for invoices issued before invoices carried their due date).
DEFAULT_PAYMENT_TERMS_DAYS = 30


def due_date(issued_at: str, terms_days: int | None) -> str:
    """The ISO date an on-account invoice issued at ``issued_at`` is due: its UTC issue date
    plus the account's payment terms."""
    days = DEFAULT_PAYMENT_TERMS_DAYS if terms_days is None else terms_days
    return (date.fromisoformat(issued_at[:10]) + timedelta(days=days)).isoformat()


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
