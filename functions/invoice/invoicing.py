"""Invoice use cases: issue a dispatched shipment's invoice, settle its payment, complete the
order, put a failure on finance's list, release a cancelled order's payment hold. No AWS here.

Each is safe to run twice (Express workflows and streams deliver at least once): the
invoice is found by its shipment, a capture carries the invoice number as idempotency key and
is recorded once, completion and flags are conditional writes.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from functions.core.errors import TransientError
from functions.core.events import utc_now
from functions.core.ids import new_id
from functions.core.invoices import SETTLED, Invoice, PaymentStatus
from functions.core.money import fmt
from functions.core.orders import Order, OrderStatus, ShipmentStatus, TimelineEntry
from functions.invoice.billing import bill, billed_shipments, due_date, invoice_number
from functions.invoice.ports import (
    Completion,
    InvoiceStore,
    OpenItem,
    OrderReader,
    PaymentDeclined,
    PaymentProvider,
)

#: How often one task tries for a number before handing the retry to the workflow.
NUMBER_ATTEMPTS = 12


def execution_name(order_id: str, shipment_id: str) -> str:
    """The name of a shipment's ``shipment_invoicing`` execution, ``<order id>-inv<n>-<random>``:
    names carry the order id (API.md) and stay unique (Express runs at least once)."""
    return f"{order_id}-inv{shipment_id.rsplit('-', 1)[1]}-{new_id('x')[-10:]}"


class InvoiceRefused(Exception):
    """The shipment cannot be invoiced (unknown, not dispatched): finance has to look."""


#: The longest reason or cause kept for finance (an error type; the provider's code and message).
REASON_LIMIT = 80
CAUSE_LIMIT = 300


def short_cause(cause: Any) -> str:
    """What finance is told about a failed task: the error's message, truncated, never a stack
    trace. Step Functions' ``Cause`` for a failed Lambda task is the function's error JSON
    (``errorType``, ``errorMessage``, ``stackTrace``…): only the message is kept (for a
    ``PaymentDeclined`` the provider's code and message); a cause that is not that JSON (a
    timeout, a service error) keeps its first line."""
    text = cause if isinstance(cause, str) else ""
    try:
        parsed = json.loads(text) if text.startswith("{") else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        text = str(parsed.get("errorMessage") or "")
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first[:CAUSE_LIMIT]


def _money(order: Order, value: Decimal) -> str:
    return fmt(value, order.currency)


@dataclass
class InvoiceService:
    orders: OrderReader
    store: InvoiceStore
    payments: PaymentProvider
    legal_entity: str
    clock: Callable[[], str] = utc_now
    pause: Callable[[float], None] = field(default=time.sleep)

    # -- InvoiceShipment: the workflow's one task ---------------------------------------------
    def invoice_shipment(self, order_id: str, shipment_id: str) -> dict[str, Any]:
        """Issue the dispatched shipment's invoice, capture it (or book it on account) and
        complete the order if that was the last thing it waited for — reading the order once.
        Each step is conditional and finds its own earlier result on a repeat."""
        order, invoice, issued = self._issue(order_id, shipment_id)
        payment, completed = "already", False
        if invoice.payment_status not in SETTLED:
            payment, completed = self._settle(order, invoice)
        completed = completed or self._complete(order)
        self._resolve_review(order, shipment_id, invoice)
        return {**self._issued(invoice, issued=issued), "payment": payment, "completed": completed}

    def _resolve_review(self, order: Order, shipment_id: str, invoice: Invoice) -> None:
        """A run that succeeds for a shipment on finance's review list (an operator re-ran it
        after fixing the cause) takes it off the list, with a ``FinanceReviewResolved`` entry."""
        if not any(f.get("shipment_id") == shipment_id for f in order.finance_reviews):
            return
        entry = TimelineEntry(at=self.clock(), event="FinanceReviewResolved",
                              detail={"shipment_id": shipment_id, "invoice_number": invoice.invoice_number})
        self.store.resolve_flag(order.order_id, shipment_id, entry)

    # -- issue -------------------------------------------------------------------------------
    def issue(self, order_id: str, shipment_id: str) -> dict[str, Any]:
        _, invoice, issued = self._issue(order_id, shipment_id)
        return self._issued(invoice, issued=issued)

    def _issue(self, order_id: str, shipment_id: str) -> tuple[Order, Invoice, bool]:
        """(the order with the invoice, the shipment's invoice, whether this call issued it)."""
        terms: int | None = None
        for attempt in range(NUMBER_ATTEMPTS):
            order = self._order(order_id)
            shipment = next((s for s in order.shipments if s.shipment_id == shipment_id), None)
            if shipment is None:
                raise InvoiceRefused(f"order {order_id} has no shipment {shipment_id}")
            existing = next((i for i in order.invoices if i.shipment_id == shipment_id), None)
            if existing is not None:
                return order, existing, False
            if shipment.status != ShipmentStatus.DISPATCHED:
                raise InvoiceRefused(f"shipment {shipment_id} is {shipment.status.value}, not DISPATCHED")
            at = self.clock()
            sequence = self.store.last_number(self.legal_entity, int(at[:4])) + 1
            invoice = bill(order, shipment, number=invoice_number(int(at[:4]), sequence), issued_at=at,
                           legal_entity=self.legal_entity, with_shipping=not order.invoices)
            if order.payment.method == "on_account":  # the account is read on this path only
                if terms is None:
                    terms = self.store.payment_terms(order.channel, order.customer.customer_id)
                invoice = replace(invoice, due_date=due_date(at, terms))
            # on the invoice itself, which holds the amounts (the published event adds them)
            entry = TimelineEntry(at=at, event="InvoiceIssued", detail={"invoice_number": invoice.invoice_number})
            outcome = self.store.issue(order, invoice, sequence, entry)
            if outcome == "issued":
                return replace(order, invoices=(*order.invoices, invoice)), invoice, True
            # Lost a race (number, shipment or order): read again. Spread retries on a hot counter.
            self.pause(random.uniform(0, 0.02 * (attempt + 1)))  # noqa: S311 - jitter, not security
        raise TransientError(f"no invoice number for {shipment_id} after {NUMBER_ATTEMPTS} attempts")

    @staticmethod
    def _issued(invoice: Invoice, *, issued: bool) -> dict[str, Any]:
        return {"order_id": invoice.order_id, "shipment_id": invoice.shipment_id,
                "invoice_number": invoice.invoice_number, "gross": str(invoice.gross), "issued": issued}

    # -- settle ------------------------------------------------------------------------------
    def settle(self, order_id: str, invoice_number: str) -> dict[str, Any]:
        """Capture the invoice's gross (card) or book it on account, then complete the order
        if every shipment is now invoiced and settled."""
        order = self._order(order_id)
        invoice = next((i for i in order.invoices if i.invoice_number == invoice_number), None)
        if invoice is None:
            raise InvoiceRefused(f"order {order_id} has no invoice {invoice_number}")
        result, completed = "already", False
        if invoice.payment_status not in SETTLED:
            result, completed = self._settle(order, invoice)
        completed = completed or self._complete(order)
        return {"order_id": order_id, "invoice_number": invoice_number, "payment": result, "completed": completed}

    def _settle(self, order: Order, invoice: Invoice) -> tuple[str, bool]:
        """Settle the invoice; when it is the last one the order waits for, complete the order
        in the same transaction (one write instead of two; if the order moved meanwhile the
        store settles alone and ``_complete`` decides). Returns (payment result, completed)."""
        at = self.clock()
        if order.payment.method == "on_account":
            completion = self._completion(order, invoice)
            # the invoice becomes an open item of the customer, due as printed on it
            item = OpenItem(channel=order.channel, customer_id=order.customer.customer_id,
                            invoice_number=invoice.invoice_number, order_id=order.order_id,
                            currency=invoice.currency, open_amount=invoice.gross,
                            due_date=invoice.due_date or due_date(invoice.issued_at, None))
            written = self.store.settle(invoice, PaymentStatus.ON_ACCOUNT, None, at, None, completion, open_item=item)
            return "on_account", written == "completed"
        if invoice.gross == 0 or order.payment.method == "none":
            # Nothing to capture (a free gift shipped on its own, an exchange's replacement
            # order): settled without the provider,
            # which would refuse a capture of nothing, and with no PaymentCaptured of 0.00.
            completion = self._completion(order, invoice)
            written = self.store.settle(invoice, PaymentStatus.CAPTURED, None, at, None, completion)
            return "nothing_to_capture", written == "completed"
        captured = sum((i.gross for i in order.invoices if i.payment_status == PaymentStatus.CAPTURED), Decimal(0))
        authorised = order.payment.amount if order.payment.amount is not None else order.totals.total
        if captured + invoice.gross > authorised:
            raise PaymentDeclined("amount_exceeds_authorisation",
                                  f"{invoice.invoice_number}: {captured} captured + {invoice.gross} > {authorised}")
        settled_before = sum(1 for i in order.invoices if i.payment_status in SETTLED)
        # Final (the provider releases the rest of the authorisation) on the order's last
        # invoice, or as soon as this capture brings the order's total in: what is left to
        # invoice is then 0.00 and will settle without the provider.
        final = settled_before + 1 == len(billed_shipments(order)) or captured + invoice.gross >= order.totals.total
        capture = self.payments.capture(
            authorization_id=order.payment.authorization_id or "", amount=invoice.gross, currency=order.currency,
            idempotency_key=invoice.invoice_number, final=final)
        # on the invoice, whose payment fields the same write sets (the published event adds them)
        entry = TimelineEntry(at=at, event="PaymentCaptured", detail={
            "invoice_number": invoice.invoice_number, "amount": _money(order, invoice.gross),
            "provider": capture.provider, "authorization_id": order.payment.authorization_id})
        completion = self._completion(order, invoice)  # after the capture: it follows in the timeline
        written = self.store.settle(invoice, PaymentStatus.CAPTURED, capture.reference, at, entry, completion)
        return "captured", written == "completed"

    def _completion(self, order: Order, invoice: Invoice) -> Completion | None:
        """The completion to write with settling ``invoice``, if that is all the order (as read)
        still waits for: SHIPPED, and every other shipment's invoice settled."""
        if order.status != OrderStatus.SHIPPED:
            return None
        shipments = billed_shipments(order)
        settled = sum(1 for i in order.invoices if i.payment_status in SETTLED and i.invoice_number
                      != invoice.invoice_number)
        if settled + 1 != len(shipments) or len(order.invoices) != len(shipments):
            return None
        return Completion(settled_before=settled, entry=self._completed_entry(order, len(shipments)))

    def _completed_entry(self, order: Order, invoices: int) -> TimelineEntry:
        # What was read may predate another shipment's invoice: the detail says only what the
        # completion guarantees (every shipment invoiced, the invoices summing to the total).
        return TimelineEntry(at=self.clock(), event="OrderCompleted", detail={
            "invoices": invoices, "invoiced": _money(order, order.totals.total), "currency": order.currency})

    def _complete(self, order: Order) -> bool:
        """COMPLETED if every shipment's invoice is settled now. No second read: the write's
        condition (status SHIPPED and the settled count) is the check, so concurrent settles of
        an order's shipments complete it exactly once, whichever is last."""
        if order.status == OrderStatus.COMPLETED:
            return True
        if order.status not in (OrderStatus.SHIPPED, OrderStatus.PARTIALLY_SHIPPED):
            return False
        # Read as PARTIALLY_SHIPPED, the last shipment may have been dispatched (and its own run
        # found this invoice unsettled) while this run captured: the write's condition (SHIPPED,
        # every invoice settled) decides, so the run that settles last always completes.
        # Attempted even if another shipment looks unsettled in what was read: the run whose
        # settle lands last always finds every invoice settled when its write is checked.
        shipments = billed_shipments(order)
        return self.store.complete(order, len(shipments), self._completed_entry(order, len(shipments)))

    # -- FlagForFinance ----------------------------------------------------------------------
    def flag(self, order_id: str, shipment_id: str, invoice_number: str | None,
             error: dict[str, Any] | None) -> dict[str, Any]:
        """The compensation of a failed invoicing run: the shipment stays dispatched, its invoice
        (if issued) is marked FAILED, and the order goes on finance's review list with the reason, once."""
        error = error or {}
        reason = str(error.get("Error") or "Unknown")[:REASON_LIMIT]
        order = self.orders.get(order_id)
        invoice = next((i for i in (order.invoices if order else ()) if i.shipment_id == shipment_id), None)
        if order is not None and order.status == OrderStatus.COMPLETED and invoice is not None \
                and invoice.payment_status in SETTLED:
            # a stale duplicate run (Express runs at least once) or a timeout after the work was
            # done: nothing is left for finance, and a resolved review must not reopen
            return {"order_id": order_id, "shipment_id": shipment_id, "flagged": False, "reason": reason}
        if invoice_number is None and invoice is not None and invoice.payment_status not in SETTLED:
            invoice_number = invoice.invoice_number  # the run issued it before failing: mark it FAILED
        cause = short_cause(error.get("Cause"))
        entry = TimelineEntry(at=self.clock(), event="FinanceReviewRequired",
                              detail={"shipment_id": shipment_id, "invoice_number": invoice_number, "reason": reason})
        flagged = self.store.flag(order_id, shipment_id, invoice_number, reason, cause, entry)
        return {"order_id": order_id, "shipment_id": shipment_id, "flagged": flagged, "reason": reason}

    # -- on cancel ---------------------------------------------------------------------------
    def release_payment(self, order_id: str) -> str:
        """A cancelled order's authorisation voided (card) or its credit given back (on account), once."""
        order = self._order(order_id)
        if order.status != OrderStatus.CANCELLED or order.payment_released_at or order.payment.method == "none":
            return "nothing"
        at = self.clock()
        if order.payment.method == "on_account":
            entry = TimelineEntry(at=at, event="CreditReleased", detail={
                "amount": _money(order, order.totals.total), "currency": order.currency})
            return "credit_released" if self.store.release_payment(order, entry, credit=True) else "already"
        detail: dict[str, Any] = {"authorization_id": order.payment.authorization_id}
        try:
            result = self.payments.void(authorization_id=order.payment.authorization_id or "",
                                        idempotency_key=f"void-{order_id}")
            event = "PaymentVoided"
            detail |= {"payment_reference": result.reference, "provider": result.provider}
        except PaymentDeclined as exc:  # e.g. expired already: nothing to release, but say so
            event = "PaymentVoidRefused"
            detail |= {"code": exc.code, "message": exc.message}
        entry = TimelineEntry(at=at, event=event, detail=detail)
        return "voided" if self.store.release_payment(order, entry, credit=False) else "already"

    def _order(self, order_id: str) -> Order:
        return order_or_refused(self.orders, order_id)


def order_or_refused(orders: OrderReader, order_id: str) -> Order:
    """The order, or InvoiceRefused (a task started for an order that is not there)."""
    order = orders.get(order_id)
    if order is None:
        raise InvoiceRefused(f"no order {order_id}")
    return order
