"""The invoice as the order carries it: the entity (one per dispatched shipment), its payment
status and its view (API.md "Finance"). The billing rules that make one live with the invoice
capability (``functions/invoice/billing.py``); capture shows invoices in the order's view."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from .money import fmt
from .orders import OrderLine


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


def invoice_view(inv: Invoice) -> dict[str, Any]:
    """The invoice as API.md shows it (``invoices[]`` of an order, ``GET /invoices``)."""
    c = inv.currency
    return {"invoice_number": inv.invoice_number, "kind": inv.kind, "order_id": inv.order_id,
            "shipment_id": inv.shipment_id, "legal_entity": inv.legal_entity, "issued_at": inv.issued_at,
            "currency": c, "net": fmt(inv.net, c), "tax": fmt(inv.tax, c), "gross": fmt(inv.gross, c),
            "total": fmt(inv.gross, c), "payment_status": inv.payment_status.value,
            "payment_reference": inv.payment_reference}
