"""The order as API.md shows it (``GET /orders/{id}``, the capture's 201), per role.

A channel never sees internal error text (API.md, Orders): finance's review list is empty in its
view and the timeline entries of failed payment steps lose their reason, code and message.
Agents and finance see the short reason the invoice capability stored (an error type and the
provider's decline code and message, never a stack trace: ``functions/invoice/invoicing.py``).
Finance sees no customer contact data: no email or phone, nor where a notice was sent."""

from __future__ import annotations

from typing import Any

from functions.core.invoices import credit_note_view, invoice_view
from functions.core.money import fmt
from functions.core.orders import Order, OrderStatus, Shipment
from functions.core.returns import return_view
from functions.core.taxes import tax_view

from .pricing import wire_totals


def shipment_view(s: Shipment) -> dict[str, Any]:
    return {"shipment_id": s.shipment_id, "node_id": s.node_id, "status": s.status.value,
            "lines": [{"line_id": ln.line_id, "sku": ln.sku, "quantity": ln.quantity} for ln in s.lines],
            "carrier": s.carrier, "tracking_number": s.tracking_number, "requested_at": s.requested_at,
            "dispatched_at": s.dispatched_at}


#: Roles that see why an order is on finance's review list.
SEES_INTERNAL_REASONS = frozenset({"agent", "finance"})
#: Roles that see no customer contact data (API.md, Orders: finance), and what that data is:
#: the customer's email and phone, and where a notice went.
SEES_NO_CONTACT = frozenset({"finance"})
CONTACT_FIELDS = frozenset({"email", "phone"})
CONTACT_DETAIL = frozenset({"to", "email", "phone"})
#: Timeline events whose detail explains a failure, and the detail keys that do.
FAILURE_EVENTS = frozenset({"FinanceReviewRequired", "FinanceReviewResolved", "PaymentVoidRefused"})
FAILURE_DETAIL = frozenset({"reason", "error", "cause", "code", "message"})


def _timeline_entry(event: str, detail: dict[str, Any], internal: bool, contact: bool) -> dict[str, Any]:
    if not internal and event in FAILURE_EVENTS:
        detail = {k: v for k, v in detail.items() if k not in FAILURE_DETAIL}
    if not contact:
        detail = {k: v for k, v in detail.items() if k not in CONTACT_DETAIL}
    return detail


def order_view(order: Order, role: str = "channel") -> dict[str, Any]:
    """The order as API.md shows it to ``role`` (by default as a channel sees it: the least)."""
    internal = role in SEES_INTERNAL_REASONS
    contact = role not in SEES_NO_CONTACT
    c = order.currency
    return {
        "order_id": order.order_id, "channel": order.channel, "channel_order_id": order.channel_order_id,
        "status": order.status.value, "currency": c,
        "customer": {k: v for k, v in vars(order.customer).items()
                     if v is not None and (contact or k not in CONTACT_FIELDS)},
        "lines": [{"line_id": ln.line_id, "sku": ln.sku, "quantity": ln.quantity,
                   "unit_price": fmt(ln.unit_price, c), "tax_class": ln.tax_class, "returnable": ln.returnable}
                  for ln in order.lines],
        "shipping_address": {k: v for k, v in vars(order.shipping_address).items() if v is not None},
        "shipping_method": order.shipping_method,
        "payment": {"method": order.payment.method, "authorization_id": order.payment.authorization_id,
                    "amount": fmt(order.payment.amount, c) if order.payment.amount is not None else None},
        "totals": wire_totals(order.totals, c),
        "shipments": [shipment_view(s) for s in order.shipments],
        "invoices": [*(invoice_view(i) for i in order.invoices), *(credit_note_view(n) for n in order.credit_notes)],
        "returns": [return_view(r) for r in order.returns],
        # an order is allocated whole: while it waits, every line waits for stock
        "backordered_lines": [{"line_id": ln.line_id, "sku": ln.sku, "quantity": ln.quantity} for ln in order.lines]
        if order.status == OrderStatus.BACKORDERED else [],
        "timeline": [{"at": e.at, "event": e.event, "detail": _timeline_entry(e.event, e.detail, internal, contact)}
                     for e in order.timeline],
        "cancel_reason": order.cancel_reason,
        "exchange_for": order.exchange_for,
        "purchase_order_number": order.purchase_order_number,
        "tax": tax_view(order.tax, order.customer.locale) if order.tax else None,
        "finance_review": list(order.finance_reviews) if internal else [],
        "created_at": order.created_at, "updated_at": order.updated_at,
    }
