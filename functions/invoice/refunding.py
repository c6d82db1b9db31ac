"""Return use cases of the invoice capability: credit a receipt (its credit notes, gaplessly
numbered), refund them (card: the payment provider, on account: the customer's credit back),
move the return on to REFUNDED once everything received is refunded, and put a failure on
finance's review list. No AWS here.

Each step is safe to run twice (``return_processing`` is Express, at least once): a receipt's
notes are keyed by what they credit, a refund is claimed once against what the order may still
refund (so concurrent refunds never exceed what was captured) and carries the note's number as
the provider's idempotency key, the return's move is conditional on its version.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from functions.core.errors import TransientError
from functions.core.events import utc_now
from functions.core.ids import new_id
from functions.core.invoices import CreditNote, PaymentStatus, RefundStatus
from functions.core.money import fmt
from functions.core.orders import Order, TimelineEntry
from functions.core.returns import Return, ReturnOutcome, ReturnStatus
from functions.invoice.crediting import NotYetInvoiced, credit_receipt
from functions.invoice.invoicing import CAUSE_LIMIT, REASON_LIMIT, InvoiceRefused, order_or_refused, short_cause
from functions.invoice.ports import CreditNoteStore, OrderReader, PaymentDeclined, PaymentProvider

#: How often one task tries for a number before handing the retry to the workflow.
NUMBER_ATTEMPTS = 12


def execution_name(order_id: str, return_id: str, receipt_no: int) -> str:
    """``<order id>-ret<n>r<receipt>-<random>``: names carry the order id and stay unique."""
    return f"{order_id}-ret{return_id.rsplit('-', 1)[1]}r{receipt_no}-{new_id('x')[-10:]}"


def captured_of(order: Order) -> Decimal:
    return sum((i.gross for i in order.invoices if i.payment_status == PaymentStatus.CAPTURED), Decimal(0))


@dataclass
class RefundService:
    orders: OrderReader
    store: CreditNoteStore
    payments: PaymentProvider
    legal_entity: str
    clock: Callable[[], str] = utc_now
    pause: Callable[[float], None] = field(default=time.sleep)

    # -- RefundReceipt: the workflow's task ---------------------------------------------------
    def refund_receipt(self, order_id: str, return_id: str, receipt_id: str) -> dict[str, Any]:
        """Credit the receipt, refund its notes, and settle the return if that was all it waited
        for. On a repeat every step finds its own earlier result."""
        order, ret, notes = self._credit(order_id, return_id, receipt_id)
        refunded = Decimal(0)
        for cn in notes:
            refunded += self._refund(order, cn)
        status = self._settle(order_id, return_id)
        return {"order_id": order_id, "return_id": return_id, "receipt_id": receipt_id,
                "credit_notes": [n.credit_note_number for n in notes],
                "refunded": fmt(refunded, order.currency), "status": status or ret.status.value}

    def _credit(self, order_id: str, return_id: str, receipt_id: str) -> tuple[Order, Return, list[CreditNote]]:
        for attempt in range(NUMBER_ATTEMPTS):
            order = self._order(order_id)
            ret = next((r for r in order.returns if r.return_id == return_id), None)
            if ret is None:
                raise InvoiceRefused(f"order {order_id} has no return {return_id}")
            receipt = next((x for x in ret.receipts if x.receipt_id == receipt_id), None)
            if receipt is None:
                raise InvoiceRefused(f"return {return_id} has no receipt {receipt_id}")
            if ret.outcome == ReturnOutcome.EXCHANGE and ret.status != ReturnStatus.CLOSED:
                # an exchange is replaced; one closed with part of it in is refunded what came
                raise InvoiceRefused(f"return {return_id} is an exchange: nothing to credit")
            mine = [n for n in order.credit_notes if n.return_id == return_id and n.receipt_id == receipt_id]
            if mine:
                return order, ret, mine
            at = self.clock()
            first = self.store.last_number(self.legal_entity, int(at[:4])) + 1
            try:
                notes = credit_receipt(order, ret, receipt, first_number=first, issued_at=at,
                                       legal_entity=self.legal_entity)
            except NotYetInvoiced as exc:
                raise TransientError(str(exc)) from exc
            entries = [TimelineEntry(at=at, event="CreditNoteIssued", detail={
                "invoice_number": n.credit_note_number, "corrects": n.corrects, "return_id": return_id,
                "receipt_id": receipt_id}) for n in notes]
            outcome = self.store.issue(order, notes, first, entries)
            if outcome == "issued":
                return replace(order, credit_notes=(*order.credit_notes, *notes)), ret, notes
            # lost a race (this receipt's notes, another of the order's, the number): read again
            self.pause(random.uniform(0, 0.02 * (attempt + 1)))  # noqa: S311 - jitter, not security
        raise TransientError(f"no credit note number for {receipt_id} after {NUMBER_ATTEMPTS} attempts")

    def _refund(self, order: Order, cn: CreditNote) -> Decimal:
        """Give ``cn``'s gross back once; the amount this call gave back (0 if done before)."""
        if cn.refunded_at:
            return Decimal(0)
        at = self.clock()
        corrected = next((i for i in order.invoices if i.invoice_number == cn.corrects), None)
        if corrected is None:
            raise InvoiceRefused(f"{cn.credit_note_number} corrects {cn.corrects}, which the order lacks")
        detail = {"invoice_number": cn.credit_note_number, "corrects": cn.corrects, "return_id": cn.return_id,
                  "amount": fmt(cn.gross, cn.currency), "currency": cn.currency}
        if order.payment.method == "on_account":
            entry = TimelineEntry(at=at, event="RefundIssued", detail={**detail, "method": "on_account"})
            credit = (order.channel, order.customer.customer_id)
            done = self.store.record_refund(cn, RefundStatus.CREDITED, None, at, [entry], credit=credit)
            return cn.gross if done else Decimal(0)
        if cn.gross == 0:  # nothing was paid for these units: nothing to give back, no provider call
            entry = TimelineEntry(at=at, event="RefundIssued", detail={**detail, "method": "none"})
            self.store.record_refund(cn, RefundStatus.REFUNDED, None, at, [entry])
            return Decimal(0)
        if corrected.payment_status != PaymentStatus.CAPTURED or not corrected.payment_reference:
            if corrected.payment_status == PaymentStatus.PENDING:
                raise TransientError(f"{cn.corrects} is not captured yet: {cn.credit_note_number} waits")
            raise PaymentDeclined("not_captured", f"{cn.corrects} was not captured ({corrected.payment_status.value})")
        if not cn.refund_claimed_at:
            captured = captured_of(order)
            if cn.gross > captured or self.store.claim_refund(cn, at, captured - cn.gross) == "exceeds":
                raise PaymentDeclined("amount_exceeds_captured",
                                      f"{cn.credit_note_number}: {cn.gross} would refund more than was captured")
        result = self.payments.refund(payment_reference=corrected.payment_reference, amount=cn.gross,
                                      currency=cn.currency, idempotency_key=cn.credit_note_number)
        refund_detail = {**detail, "method": "card", "payment_reference": result.reference,
                         "provider": result.provider}
        entries = [TimelineEntry(at=at, event="PaymentRefunded", detail=refund_detail),
                   TimelineEntry(at=at, event="RefundIssued", detail=refund_detail)]
        done = self.store.record_refund(cn, RefundStatus.REFUNDED, result.reference, at, entries)
        return cn.gross if done else Decimal(0)

    def _settle(self, order_id: str, return_id: str) -> str | None:
        """REFUNDED once the return is RECEIVED and every receipt's notes are refunded; the
        return's status after (None if it did not move)."""
        for _ in range(NUMBER_ATTEMPTS):
            order = self._order(order_id)
            ret = next(r for r in order.returns if r.return_id == return_id)
            if ret.status != ReturnStatus.RECEIVED:
                return ret.status.value
            notes = [n for n in order.credit_notes if n.return_id == return_id]
            credited = {n.receipt_id for n in notes}
            if any(x.receipt_id not in credited for x in ret.receipts) or any(not n.refunded_at for n in notes):
                return ret.status.value  # another receipt's run settles it
            at = self.clock()
            after = replace(ret, status=ReturnStatus.REFUNDED, version=ret.version + 1, updated_at=at)
            gross = sum((n.gross for n in notes), Decimal(0))
            entry = TimelineEntry(at=at, event="ReturnRefunded", detail={
                "return_id": return_id, "rma_number": ret.rma_number, "refunded": fmt(gross, order.currency),
                "credit_notes": [n.credit_note_number for n in notes]})
            if self.store.settle_return(ret, after, entry):
                return after.status.value
        raise TransientError(f"return {return_id} kept moving while being settled")

    # -- FlagReturnForFinance -----------------------------------------------------------------
    def flag(self, order_id: str, return_id: str, receipt_id: str, error: dict[str, Any] | None) -> dict[str, Any]:
        """The Catch of a failed run: the receipt stays received, its unrefunded note (if issued)
        is marked FAILED, and the order goes on finance's review list with the reason, once."""
        error = error or {}
        reason = str(error.get("Error") or "Unknown")[:REASON_LIMIT]
        order = self.orders.get(order_id)
        if order is None:  # nothing to put on the list (a malformed start); the failure stays in the run
            return {"order_id": order_id, "return_id": return_id, "flagged": False, "reason": reason}
        notes = [n for n in order.credit_notes if n.return_id == return_id and n.receipt_id == receipt_id]
        if notes and all(n.refunded_at for n in notes):
            return {"order_id": order_id, "return_id": return_id, "flagged": False, "reason": reason}
        failed = next((n for n in notes if not n.refunded_at), None)
        ret = next((r for r in order.returns if r.return_id == return_id), None)
        if ret is not None and ret.status in (ReturnStatus.EXCHANGED, ReturnStatus.REFUNDED) and failed is None:
            # another run finished it (an exchange has no notes): nothing for finance to look at
            return {"order_id": order_id, "return_id": return_id, "flagged": False, "reason": reason}
        # the provider refused for good: the amount claimed against the capture is given back,
        # so the order's later refunds are judged on what really was refunded
        release = failed is not None and bool(failed.refund_claimed_at) and reason == "PaymentDeclined"
        at = self.clock()
        detail = {"return_id": return_id, "receipt_id": receipt_id,
                  "credit_note_number": failed.credit_note_number if failed else None}
        entry = TimelineEntry(at=at, event="FinanceReviewRequired", detail={**detail, "reason": reason})
        flagged = self.store.flag(order_id, f"{return_id}#{receipt_id}", detail, reason,
                                  short_cause(error.get("Cause"))[:CAUSE_LIMIT], entry, failed, release=release)
        return {"order_id": order_id, "return_id": return_id, "flagged": flagged, "reason": reason}

    def _order(self, order_id: str) -> Order:
        return order_or_refused(self.orders, order_id)
