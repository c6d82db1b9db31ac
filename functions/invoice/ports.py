"""Ports of the invoice capability: what the use cases need from the outside world (the order
through the shared ``OrderReader``, the invoice writes through ``InvoiceStore``, money through
``PaymentProvider``).

The payment provider port is deliberately small: capture part or all of an authorisation the
channel took at checkout, void what is left of it, and refund part of what was captured (for
returns). Every call carries an idempotency key, so a retried task never moves money twice
(providers such as Stripe and Adyen honour the key).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from functions.core.invoices import CreditNote, Invoice, PaymentStatus, RefundStatus
from functions.core.orders import Order, TimelineEntry
from functions.core.ports import OrderReader
from functions.core.returns import Return

__all__ = ["Completion", "CreditNoteStore", "InvoiceStore", "OrderReader", "PaymentDeclined", "PaymentProvider",
           "PaymentResult"]


@dataclass(frozen=True)
class Completion:
    """Completing the order in the same write as settling its last invoice: valid only if the
    order is still SHIPPED with ``settled_before`` invoices settled (the write's condition)."""

    settled_before: int
    entry: TimelineEntry


@dataclass(frozen=True)
class PaymentResult:
    #: The provider's id of this capture or cancellation (shown to finance as ``payment_reference``).
    reference: str
    #: ``captured``, ``voided`` or ``refunded``.
    status: str
    #: Which provider answered (``local``, ``stripe``).
    provider: str
    #: The amount the provider confirms (captures and refunds).
    amount: Decimal | None = None


class PaymentDeclined(Exception):
    """The provider refused for good (expired or unknown authorisation, amount above it,
    card declined). Not retried: finance has to look at it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class PaymentProvider(Protocol):
    name: str

    def capture(self, *, authorization_id: str, amount: Decimal, currency: str, idempotency_key: str,
                final: bool) -> PaymentResult:
        """Capture ``amount`` (major units, e.g. ``Decimal("35.58")``) of the authorisation.

        ``final`` is true for the order's last capture: the provider may release the rest of
        the authorisation. Raises ``PaymentDeclined`` for a refusal and
        ``functions.core.errors.TransientError`` for anything worth retrying (timeouts, 5xx,
        rate limits)."""
        ...

    def void(self, *, authorization_id: str, idempotency_key: str) -> PaymentResult:
        """Release an authorisation nothing has been captured from (a cancelled order)."""
        ...

    def refund(self, *, payment_reference: str, amount: Decimal, currency: str,
               idempotency_key: str) -> PaymentResult:
        """Give back ``amount`` of what was captured: ``payment_reference`` is the order's
        authorisation or a capture's reference. Partial (several refunds may follow one
        capture); the same ``idempotency_key`` again answers the first refund and moves no
        money. Raises ``PaymentDeclined`` for a refusal (more than is left, unknown payment) and
        ``TransientError`` for anything worth retrying."""
        ...


class InvoiceStore(Protocol):
    def last_number(self, legal_entity: str, year: int) -> int: ...
    def issue(self, order: Order, invoice: Invoice, sequence: int, entry: TimelineEntry) -> str: ...
    def settle(self, invoice: Invoice, status: PaymentStatus, reference: str | None, at: str,
               entry: TimelineEntry | None, completion: Completion | None = None) -> str: ...
    def complete(self, order: Order, invoices: int, entry: TimelineEntry) -> bool: ...
    def flag(self, order_id: str, shipment_id: str, invoice_number: str | None, reason: str, error: str,
             entry: TimelineEntry) -> bool: ...
    def resolve_flag(self, order_id: str, shipment_id: str, entry: TimelineEntry) -> bool: ...
    def release_payment(self, order: Order, entry: TimelineEntry, *, credit: bool) -> bool: ...


class CreditNoteStore(Protocol):
    def last_number(self, legal_entity: str, year: int) -> int: ...
    def issue(self, order: Order, notes: list[CreditNote], first: int, entries: list[TimelineEntry]) -> str: ...
    def claim_refund(self, cn: CreditNote, at: str, limit: Decimal) -> str: ...
    def record_refund(self, cn: CreditNote, status: RefundStatus, reference: str | None, at: str,
                      entries: list[TimelineEntry], *, credit: tuple[str, str] | None = None) -> bool: ...
    def settle_return(self, before: Return, after: Return, entry: TimelineEntry) -> bool: ...
    def flag(self, order_id: str, ref: str, detail: dict[str, Any], reason: str, error: str,
             entry: TimelineEntry, failed: CreditNote | None, *, release: bool = False) -> bool: ...
