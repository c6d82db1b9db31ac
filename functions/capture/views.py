"""The order as API.md shows it (``GET /orders/{id}``, the capture's 201)."""

from __future__ import annotations

from typing import Any

from functions.core.invoices import invoice_view
from functions.core.money import fmt
from functions.core.orders import Order, Shipment

from .pricing import wire_totals


def shipment_view(s: Shipment) -> dict[str, Any]:
    return {"shipment_id": s.shipment_id, "node_id": s.node_id, "status": s.status.value,
            "lines": [{"line_id": ln.line_id, "sku": ln.sku, "quantity": ln.quantity} for ln in s.lines],
            "carrier": s.carrier, "tracking_number": s.tracking_number, "requested_at": s.requested_at,
            "dispatched_at": s.dispatched_at}


def order_view(order: Order) -> dict[str, Any]:
    """The order as API.md shows it."""
    c = order.currency
    return {
        "order_id": order.order_id, "channel": order.channel, "channel_order_id": order.channel_order_id,
        "status": order.status.value, "currency": c,
        "customer": {k: v for k, v in vars(order.customer).items() if v is not None},
        "lines": [{"line_id": ln.line_id, "sku": ln.sku, "quantity": ln.quantity,
                   "unit_price": fmt(ln.unit_price, c), "tax_class": ln.tax_class} for ln in order.lines],
        "shipping_address": {k: v for k, v in vars(order.shipping_address).items() if v is not None},
        "shipping_method": order.shipping_method,
        "payment": {"method": order.payment.method, "authorization_id": order.payment.authorization_id,
                    "amount": fmt(order.payment.amount, c) if order.payment.amount is not None else None},
        "totals": wire_totals(order.totals, c),
        "shipments": [shipment_view(s) for s in order.shipments],
        "invoices": [invoice_view(i) for i in order.invoices], "returns": [],
        "timeline": [{"at": e.at, "event": e.event, "detail": e.detail} for e in order.timeline],
        "cancel_reason": order.cancel_reason,
        "finance_review": list(order.finance_reviews),
        "created_at": order.created_at, "updated_at": order.updated_at,
    }
