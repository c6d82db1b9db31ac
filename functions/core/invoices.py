"""The invoice and the credit note as the order carries them: the entities (an invoice per
dispatched shipment, a credit note per receipt of a return and invoice it corrects), their
payment status and their views (API.md "Finance"). The rules that make them live with the
invoice capability (``functions/invoice/billing.py``, ``crediting.py``); capture shows both in
the order's ``invoices``."""

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
    #: On account: the ISO date it is due (issue date + the account's payment terms), set at issue.
    due_date: str | None = None
    #: On account: what is still owed on it (its gross once booked, less payments and credit
    #: notes; negative: a credit owed to the customer). None: not an open item (card, or not yet
    #: booked).
    open_amount: Decimal | None = None

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
            "payment_reference": inv.payment_reference,
            # only when set: the stored view (``summary``) gets ``open_amount`` as a number from
            # the settle's write, which payments and credit notes then move in place
            **({"due_date": inv.due_date} if inv.due_date else {}),
            **({"open_amount": fmt(inv.open_amount, c)} if inv.open_amount is not None else {})}


class RefundStatus(StrEnum):
    PENDING = "PENDING"  # issued, the money not yet given back
    REFUNDED = "REFUNDED"  # card: the provider refunded the gross
    CREDITED = "CREDITED"  # on account: the gross given back to the customer's credit
    FAILED = "FAILED"  # the provider refused; finance has it on its review list


@dataclass(frozen=True)
class CreditNote:
    """A credit note ``CN-<year>-<6 digits>``: what one receipt of a return gives back of one
    invoice (``corrects``), at that invoice's tax; positive amounts, never changed once issued
    apart from its refund fields."""

    credit_note_number: str
    order_id: str
    return_id: str
    receipt_id: str
    corrects: str
    legal_entity: str
    currency: str
    issued_at: str
    #: The units credited, as order lines (net and tax of just these units).
    lines: tuple[OrderLine, ...]
    shipping_net: Decimal
    shipping_tax: Decimal
    net: Decimal
    tax: Decimal
    gross: Decimal
    refund_status: RefundStatus = RefundStatus.PENDING
    refund_reference: str | None = None
    refunded_at: str | None = None
    #: when the refund's amount was counted against what the order may still refund (claimed
    #: before the provider is called, so concurrent refunds never exceed what was captured)
    refund_claimed_at: str | None = None
    kind: str = "credit_note"

    @property
    def year(self) -> int:
        return int(self.issued_at[:4])


def credit_note_view(cn: CreditNote) -> dict[str, Any]:
    """The credit note as API.md shows it, beside the invoices (``kind: credit_note``)."""
    c = cn.currency
    return {"invoice_number": cn.credit_note_number, "kind": cn.kind, "order_id": cn.order_id,
            "corrects": cn.corrects, "return_id": cn.return_id, "receipt_id": cn.receipt_id,
            "legal_entity": cn.legal_entity, "issued_at": cn.issued_at, "currency": c,
            "net": fmt(cn.net, c), "tax": fmt(cn.tax, c), "gross": fmt(cn.gross, c), "total": fmt(cn.gross, c),
            "shipping": fmt(cn.shipping_net + cn.shipping_tax, c),
            "shipment_id": None, "payment_status": cn.refund_status.value, "payment_reference": cn.refund_reference}
