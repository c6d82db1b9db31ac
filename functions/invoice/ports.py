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
from typing import TYPE_CHECKING, Any, Protocol

from functions.core.invoices import CreditNote, Invoice, PaymentStatus, RefundStatus
from functions.core.orders import Order, TimelineEntry
from functions.core.ports import OrderReader
from functions.core.returns import Return

if TYPE_CHECKING:
    from .document import Document

__all__ = [
    "Completion",
    "CreditAccount",
    "CreditNoteStore",
    "DocumentFiles",
    "DocumentIndex",
    "DocumentLinks",
    "DocumentStore",
    "InvoiceStore",
    "OpenItem",
    "OrderReader",
    "PaymentDeclined",
    "PaymentProvider",
    "PaymentResult",
    "ReceivableInconsistent",
    "ReceivablePayment",
    "ReceivableStore",
    "RenderQueue",
    "Rendered",
    "Renderer",
]


@dataclass(frozen=True)
class Completion:
    """Completing the order in the same write as settling its last invoice: valid only if the
    order is still SHIPPED with ``settled_before`` invoices settled (the write's condition)."""

    settled_before: int
    entry: TimelineEntry


@dataclass(frozen=True)
class OpenItem:
    """An on-account invoice as the customer owes it: booked with the invoice's settle (its gross),
    reduced by the payments received and the credit notes correcting it."""

    channel: str
    customer_id: str
    invoice_number: str
    order_id: str
    currency: str
    #: ISO date (None only for an item a credit note reached before its invoice was booked)
    due_date: str | None
    open_amount: Decimal


@dataclass(frozen=True)
class CreditAccount:
    """An on-account customer's credit (``PUT /customers/{channel}/{customer_id}/credit``)."""

    channel: str
    customer_id: str
    currency: str
    credit_limit: Decimal
    #: what the customer owes or has ordered on account and not yet paid (capture adds, payments,
    #: credit notes and cancels give back)
    exposure: Decimal
    #: limit − exposure, kept beside it in every write (conditions cannot subtract)
    available_credit: Decimal
    payment_terms_days: int
    #: how many writes moved its open items with its exposure (payments, credit notes); None before
    #: the first. A currency change is conditional on it being as read.
    moves: int | None = None


@dataclass(frozen=True)
class ReceivablePayment:
    """A payment received against an on-account invoice (``POST /invoices/{number}/payments``)."""

    invoice_number: str
    order_id: str
    channel: str
    customer_id: str
    payment_reference: str
    amount: Decimal
    currency: str
    received_at: str
    recorded_at: str
    #: what was open on the invoice after this payment
    open_amount: Decimal


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


class ReceivableInconsistent(Exception):
    """An invoice's ``open_amount`` and its customer's open item disagree (an invariant every write
    keeps is broken). Not the caller's fault and not worth retrying: the API answers a generic 500
    and logs it as an error, for an operator to reconcile the two items (docs/OPERATIONS.md)."""


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
               entry: TimelineEntry | None, completion: Completion | None = None, *,
               open_item: OpenItem | None = None) -> str:
        """``open_item``: on account, the invoice's open item is booked in the same write."""
        ...
    def payment_terms(self, channel: str, customer_id: str) -> int | None:
        """The days an on-account customer's invoices are due after issue (None: no account, or
        no terms on it). Read only for an on-account order."""
        ...
    def complete(self, order: Order, invoices: int, entry: TimelineEntry) -> bool: ...
    def flag(self, order_id: str, shipment_id: str, invoice_number: str | None, reason: str, error: str,
             entry: TimelineEntry) -> bool: ...
    def resolve_flag(self, order_id: str, shipment_id: str, entry: TimelineEntry) -> bool: ...
    def release_payment(self, order: Order, entry: TimelineEntry, *, credit: bool) -> bool: ...


@dataclass(frozen=True)
class DocumentFiles:
    """Where an invoice's or credit note's rendered files are (object keys in the document bucket)."""

    pdf_key: str
    xml_key: str


class DocumentIndex(Protocol):
    """Finance's view of the issued documents (invoices and credit notes, by issue date and number)."""

    def month(self, legal_entity: str, month: str, *, first: str, last: str, kind: str | None, limit: int,
              token: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """The documents of ``legal_entity`` issued in ``month`` (``yyyy-mm``) from day ``first``
        to day ``last`` (ISO dates, inclusive), in order of issue, at most ``limit``; and the
        token of the rest of the month (None: the month is done)."""
        ...

    def order_of(self, number: str) -> str | None:
        """The order of invoice or credit note ``number`` (None: no such document)."""
        ...


class DocumentLinks(Protocol):
    def files(self, order_id: str, number: str) -> DocumentFiles | None:
        """The rendered files of ``number`` (None: not rendered yet)."""
        ...

    def link(self, key: str, filename: str) -> str:
        """A short-lived link the caller can open to download ``key``."""
        ...


class DocumentStore(Protocol):
    def files(self, order_id: str, number: str) -> DocumentFiles | None: ...

    def store(self, order_id: str, legal_entity: str, number: str, pdf: bytes, xml: bytes, at: str) -> bool:
        """Write the files and then the mark that they are there; False if it was there already."""
        ...


class Rendered(Protocol):
    @property
    def pdf(self) -> bytes:
        """The PDF/A-3 with the CII XML embedded as ``factur-x.xml``."""
        ...

    @property
    def xml(self) -> bytes:
        """The EN 16931 CII XML."""
        ...


class Renderer(Protocol):
    def __call__(self, doc: Document) -> Rendered: ...


class RenderQueue(Protocol):
    def send(self, documents: list[tuple[str, str]]) -> None:
        """Ask for ``(order id, number)`` to be rendered (at least once each)."""
        ...


class CreditNoteStore(Protocol):
    def last_number(self, legal_entity: str, year: int) -> int: ...
    def issue(self, order: Order, notes: list[CreditNote], first: int, entries: list[TimelineEntry]) -> str: ...
    def claim_refund(self, cn: CreditNote, at: str, limit: Decimal) -> str: ...
    def record_refund(self, cn: CreditNote, status: RefundStatus, reference: str | None, at: str,
                      entries: list[TimelineEntry], *, credit: tuple[str, str] | None = None) -> bool: ...
    def settle_return(self, before: Return, after: Return, entry: TimelineEntry) -> bool: ...
    def flag(self, order_id: str, ref: str, detail: dict[str, Any], reason: str, error: str,
             entry: TimelineEntry, failed: CreditNote | None, *, release: bool = False) -> bool: ...


class ReceivableStore(Protocol):
    """On-account customers' accounts, open items and payments; finance's review list."""

    def put_account(self, account: CreditAccount, at: str) -> CreditAccount:
        """Create the account, or change its currency, limit and terms keeping its exposure
        (available = limit − exposure, in the same write). Raises ``CurrencyLocked`` when the
        currency would change while something is owed, on order or open (an open item either way,
        even if they add up to nothing), or the account moved while that was read."""
        ...

    def receivables(self, channel: str, customer_id: str) -> tuple[CreditAccount | None, list[OpenItem]]:
        """The account and its open items (settled ones too), in one read."""
        ...

    def record_payment(self, payment: ReceivablePayment, seen_open: Decimal, entry: TimelineEntry
                       ) -> tuple[str, ReceivablePayment | None]:
        """Record ``payment`` once per invoice and reference, in one write with the open item
        (``open_amount`` down, if it is still ``seen_open``), the invoice's open amount and
        ``entry`` (PaymentReceived) on its timeline, and the credit given back. ``("recorded",
        None)``, or why not: ``("replayed", the payment recorded before with that reference)``,
        ``("moved", None)`` (the open amount moved since it was read: read again),
        ``("no_account", None)`` (no account in the invoice's currency). Raises
        ``ReceivableInconsistent`` when the invoice is as read but its open item cannot take the
        amount (the two disagree: reading again would never help)."""
        ...

    def payment(self, channel: str, customer_id: str, invoice_number: str, reference: str
                ) -> ReceivablePayment | None:
        ...

    def review(self, *, limit: int, token: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """Finance's review list, oldest first: each entry as flagged (``order_id``, what it is
        about, ``reason``, ``error``, ``at``), and the token of the rest."""
        ...
