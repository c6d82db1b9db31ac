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

__all__ = ["Completion", "CreditNoteStore", "DocumentFiles", "DocumentIndex", "DocumentLinks", "DocumentStore",
           "InvoiceStore", "OrderReader", "PaymentDeclined", "PaymentProvider", "PaymentResult", "RenderQueue",
           "Rendered", "Renderer"]


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
