"""Crediting a receipt of a return and refunding it (functions/invoice/crediting.py,
refunding.py) on an in-memory store that keeps the table's conditions: what finance and the
customer would notice — a credit note per invoice corrected, at its tax, to the cent, shipping
back only when the merchant is at fault and the whole order returns, gapless numbers, one refund
per note with its number as the provider's idempotency key, never more than was captured."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from functions.core.errors import TransientError
from functions.core.invoices import CreditNote, PaymentStatus, RefundStatus
from functions.core.orders import Order, TimelineEntry
from functions.core.returns import (
    Receipt,
    ReceiptCondition,
    ReceivedLine,
    Return,
    ReturnLine,
    ReturnOutcome,
    ReturnReason,
    ReturnStatus,
    return_id_for,
    rma_number_for,
)
from functions.invoice.adapters.local_payments import LocalPaymentProvider
from functions.invoice.billing import bill, invoice_number
from functions.invoice.crediting import NotYetInvoiced, credit_note_number, credit_receipt
from functions.invoice.ports import PaymentDeclined, PaymentResult
from functions.invoice.refunding import RefundService
from tests.unit.test_invoicing import order_with

pytestmark = pytest.mark.timeout(60)

AT = "2026-11-30T10:00:00.000Z"
LE = "ACME-DE"


def invoiced(lines: list[dict[str, Any]], parts: list[list[int]], *, method: str = "card") -> Order:
    """A dispatched order whose shipments are invoiced (INV-2026-000001…) and captured."""
    payment = ({"method": "card", "authorization_id": "auth_8xk2", "amount": "99999.00"} if method == "card"
               else {"method": "on_account"})
    order = order_with(lines, parts, payment=payment)
    invoices = []
    for n, s in enumerate(order.shipments, start=1):
        inv = bill(order, s, number=invoice_number(2026, n), issued_at=AT, legal_entity=LE, with_shipping=n == 1)
        status = PaymentStatus.CAPTURED if method == "card" else PaymentStatus.ON_ACCOUNT
        invoices.append(replace(inv, payment_status=status,
                                payment_reference=f"cap_{n}" if method == "card" else None))
    return replace(order, invoices=tuple(invoices))


def returned(order: Order, lines: list[tuple[str, int, ReturnReason]], receipts: list[list[tuple[str, int]]],
             *, n: int = 1, outcome: ReturnOutcome = ReturnOutcome.REFUND) -> Order:
    """``order`` with its n-th return of ``lines``, received in ``receipts`` (R1, R2…)."""
    rid = return_id_for(order.order_id, n)
    skus = {ln.line_id: ln.sku for ln in order.lines}
    recs = tuple(Receipt(f"{rid}-R{k}", AT, tuple(ReceivedLine(line, q, ReceiptCondition.RESELLABLE)
                                                  for line, q in rec)) for k, rec in enumerate(receipts, start=1))
    received: dict[str, int] = {}
    for rec in recs:
        for line, q in rec.units().items():
            received[line] = received.get(line, 0) + q
    full = all(received.get(line, 0) >= q for line, q, _ in lines)
    status = ReturnStatus.RECEIVED if full else ReturnStatus.PARTIALLY_RECEIVED if recs else ReturnStatus.AUTHORIZED
    ret = Return(return_id=rid, rma_number=rma_number_for(rid), order_id=order.order_id, channel=order.channel,
                 status=status, outcome=outcome,
                 lines=tuple(ReturnLine(line, skus[line], q, reason) for line, q, reason in lines),
                 return_to_node="N0", return_to_address={}, created_at=AT, updated_at=AT, version=1 + len(recs),
                 received=received, receipts=recs)
    return replace(order, returns=(*order.returns, ret))


def credit(order: Order, n: int = 1, receipt: int = 1, first: int = 1) -> list[CreditNote]:
    ret = order.returns[n - 1]
    return credit_receipt(order, ret, ret.receipts[receipt - 1], first_number=first, issued_at=AT, legal_entity=LE)


TWO_A = [{"sku": "A", "quantity": 2, "unit_price": "12.50"}]
DAMAGED, CHANGED_MIND = ReturnReason.DAMAGED, ReturnReason.CHANGED_MIND


# -- crediting rules ----------------------------------------------------------------------------

def test_one_unit_of_two_is_credited_at_the_invoices_price_and_tax_below_its_gross() -> None:
    order = returned(invoiced(TWO_A, [[2]]), [("1", 1, DAMAGED)], [[("1", 1)]])
    (cn,) = credit(order)
    inv = order.invoices[0]
    assert cn.credit_note_number == "CN-2026-000001" and cn.corrects == inv.invoice_number == "INV-2026-000001"
    assert (cn.net, cn.tax, cn.gross) == (Decimal("12.50"), Decimal("2.38"), Decimal("14.88"))
    assert cn.gross < inv.gross and cn.shipping_net == 0  # half the order is back: no shipping
    assert cn.net + cn.tax == cn.gross > 0


def test_the_whole_order_back_for_a_merchant_fault_credits_the_shipping_and_the_invoice_to_the_cent() -> None:
    order = returned(invoiced(TWO_A, [[2]]), [("1", 2, DAMAGED)], [[("1", 2)]])
    (cn,) = credit(order)
    inv = order.invoices[0]
    assert (cn.shipping_net, cn.shipping_tax) == (inv.shipping_net, inv.shipping_tax) == (Decimal("4.90"),
                                                                                         Decimal("0.93"))
    assert (cn.net, cn.tax, cn.gross) == (inv.net, inv.tax, inv.gross) == (Decimal("29.90"), Decimal("5.68"),
                                                                          Decimal("35.58"))


def test_a_change_of_mind_never_gives_the_shipping_back() -> None:
    order = returned(invoiced(TWO_A, [[2]]), [("1", 2, CHANGED_MIND)], [[("1", 2)]])
    (cn,) = credit(order)
    assert cn.shipping_net == cn.shipping_tax == 0 and cn.gross == Decimal("29.75")


def test_units_are_credited_against_the_invoices_that_billed_them_one_note_per_invoice() -> None:
    # line 1: 3 units, 1 in shipment 1 and 2 in shipment 2; both invoices are corrected
    order = returned(invoiced([{"sku": "A", "quantity": 3, "unit_price": "10.00"}], [[1, 2]]),
                     [("1", 3, CHANGED_MIND)], [[("1", 3)]])
    notes = credit(order, first=7)
    assert [(n.credit_note_number, n.corrects, n.lines[0].quantity) for n in notes] == [
        ("CN-2026-000007", "INV-2026-000001", 1), ("CN-2026-000008", "INV-2026-000002", 2)]
    assert sum(n.tax for n in notes) == sum(ln.tax for i in order.invoices for ln in i.lines)


@settings(max_examples=120, deadline=None)
@given(quantity=st.integers(1, 9), price=st.decimals("0.01", "999.99", places=2),
       tax_class=st.sampled_from(["standard", "reduced", "zero"]), data=st.data())
def test_receipts_one_unit_at_a_time_credit_the_invoice_line_exactly_never_more(
        quantity: int, price: Decimal, tax_class: str, data: Any) -> None:
    order = invoiced([{"sku": "A", "quantity": quantity, "unit_price": str(price), "tax_class": tax_class}],
                     [[quantity]])
    cuts = data.draw(st.lists(st.integers(1, quantity), min_size=1, max_size=quantity))
    chunks, left = [], quantity
    for c in cuts:
        if left:
            chunks.append(min(c, left))
            left -= chunks[-1]
    if left:
        chunks.append(left)
    order = returned(order, [("1", quantity, CHANGED_MIND)], [[("1", c)] for c in chunks])
    for k in range(1, len(chunks) + 1):  # each receipt credited after the ones before
        notes = credit(order, receipt=k, first=len(order.credit_notes) + 1)
        order = replace(order, credit_notes=(*order.credit_notes, *notes))
    billed = order.invoices[0].lines[0]
    assert sum(n.net for n in order.credit_notes) == billed.net
    assert sum(n.tax for n in order.credit_notes) == billed.tax
    for n in order.credit_notes:
        assert n.net + n.tax == n.gross and n.net > 0 and n.tax >= 0


def test_units_on_no_invoice_yet_wait_for_the_invoicing() -> None:
    order = order_with(TWO_A, [[2]])  # dispatched, not invoiced yet
    order = returned(order, [("1", 1, DAMAGED)], [[("1", 1)]])
    with pytest.raises(NotYetInvoiced, match="line 1"):
        credit(order)


def test_credit_note_numbers_have_the_year_and_six_digits() -> None:
    assert credit_note_number(2026, 1) == "CN-2026-000001"
    with pytest.raises(ValueError, match="outside"):
        credit_note_number(2026, 1_000_000)


# -- the use case on a store with the table's conditions ----------------------------------------

class FakeCreditNoteStore:
    """In memory, as CreditNoteTable: one counter per legal entity and year, a receipt's notes
    once, the order's count of notes as the guard, a refund claimed and recorded once, the
    order's refunds never above what was captured, the return's version, one open flag."""

    def __init__(self, order: Order) -> None:
        self.order = order
        self.counters: dict[tuple[str, int], int] = {}
        self.refunded_total = Decimal(0)
        self.events: list[TimelineEntry] = []
        self.flags: dict[str, str] = {}
        self.credit_back: Decimal = Decimal(0)
        #: outcomes to answer before really issuing (lost races)
        self.races: list[str] = []

    def get(self, order_id: str) -> Order | None:
        return self.order if order_id == self.order.order_id else None

    def last_number(self, legal_entity: str, year: int) -> int:
        return self.counters.get((legal_entity, year), 0)

    def issue(self, order: Order, notes: list[CreditNote], first: int, entries: list[TimelineEntry]) -> str:
        if self.races:
            race = self.races.pop(0)
            if race == "number_taken":
                key = (LE, 2026)
                self.counters[key] = self.counters.get(key, 0) + 1
            return race
        key = (notes[0].legal_entity, notes[0].year)
        if self.counters.get(key, 0) != first - 1:
            return "number_taken"
        mine = {(n.return_id, n.receipt_id) for n in self.order.credit_notes}
        if (notes[0].return_id, notes[0].receipt_id) in mine:
            return "already"
        if len(self.order.credit_notes) != len(order.credit_notes):
            return "order_changed"
        self.counters[key] = first + len(notes) - 1
        self.order = replace(self.order, credit_notes=(*self.order.credit_notes, *notes))
        self.events.extend(entries)
        return "issued"

    def _note(self, cn: CreditNote) -> CreditNote:
        return next(n for n in self.order.credit_notes if n.credit_note_number == cn.credit_note_number)

    def _put(self, cn: CreditNote) -> None:
        self.order = replace(self.order, credit_notes=tuple(
            cn if n.credit_note_number == cn.credit_note_number else n for n in self.order.credit_notes))

    def claim_refund(self, cn: CreditNote, at: str, limit: Decimal) -> str:
        if self._note(cn).refund_claimed_at:
            return "already"
        if self.refunded_total > limit:
            return "exceeds"
        self.refunded_total += cn.gross
        self._put(replace(self._note(cn), refund_claimed_at=at))
        return "claimed"

    def record_refund(self, cn: CreditNote, status: RefundStatus, reference: str | None, at: str,
                      entries: list[TimelineEntry], *, credit: tuple[str, str] | None = None) -> bool:
        if self._note(cn).refunded_at:
            return False
        self._put(replace(self._note(cn), refunded_at=at, refund_status=status, refund_reference=reference))
        if credit is not None:
            self.credit_back += cn.gross
        self.events.extend(entries)
        return True

    def settle_return(self, before: Return, after: Return, entry: TimelineEntry) -> bool:
        current = next(r for r in self.order.returns if r.return_id == before.return_id)
        if current.version != before.version:
            return False
        self.order = replace(self.order, returns=tuple(after if r.return_id == after.return_id else r
                                                       for r in self.order.returns))
        self.events.append(entry)
        return True

    def flag(self, order_id: str, ref: str, detail: dict[str, Any], reason: str, error: str,
             entry: TimelineEntry, failed: CreditNote | None, *, release: bool = False) -> bool:
        if ref in self.flags:
            return False
        self.flags[ref] = reason
        if failed is not None:
            note = replace(self._note(failed), refund_status=RefundStatus.FAILED)
            if release:
                assert note.refund_claimed_at
                note = replace(note, refund_claimed_at=None)
                self.refunded_total -= note.gross
            self._put(note)
        self.events.append(entry)
        return True


class RecordingProvider(LocalPaymentProvider):
    def __init__(self) -> None:
        super().__init__()
        self.refunds: list[dict[str, Any]] = []

    def refund(self, *, payment_reference: str, amount: Decimal, currency: str,
               idempotency_key: str) -> PaymentResult:
        self.refunds.append({"payment_reference": payment_reference, "amount": amount, "currency": currency,
                             "idempotency_key": idempotency_key})
        return super().refund(payment_reference=payment_reference, amount=amount, currency=currency,
                              idempotency_key=idempotency_key)


def service_for(order: Order) -> tuple[RefundService, FakeCreditNoteStore, RecordingProvider]:
    store = FakeCreditNoteStore(order)
    provider = RecordingProvider()
    return RefundService(orders=store, store=store, payments=provider, legal_entity=LE, clock=lambda: AT,
                         pause=lambda _s: None), store, provider


def names(store: FakeCreditNoteStore) -> list[str]:
    return [e.event for e in store.events]


def test_a_receipt_is_credited_refunded_and_its_return_refunded_once_however_often_it_runs() -> None:
    order = returned(invoiced(TWO_A, [[2]]), [("1", 1, DAMAGED)], [[("1", 1)]])
    service, store, provider = service_for(order)
    ret = order.returns[0]
    first = service.refund_receipt(order.order_id, ret.return_id, ret.receipts[0].receipt_id)
    again = service.refund_receipt(order.order_id, ret.return_id, ret.receipts[0].receipt_id)
    assert first == {**again, "refunded": "14.88"} and again["refunded"] == "0.00"
    assert first["credit_notes"] == ["CN-2026-000001"] and first["status"] == "REFUNDED"
    assert provider.refunds == [{"payment_reference": "cap_1", "amount": Decimal("14.88"), "currency": "EUR",
                                 "idempotency_key": "CN-2026-000001"}]
    assert names(store) == ["CreditNoteIssued", "PaymentRefunded", "RefundIssued", "ReturnRefunded"]
    (cn,) = store.order.credit_notes
    assert (cn.refund_status, store.order.returns[0].status) == (RefundStatus.REFUNDED, ReturnStatus.REFUNDED)
    assert store.counters == {(LE, 2026): 1} and store.refunded_total == Decimal("14.88")


def test_a_partial_receipt_is_refunded_and_the_return_waits_for_the_rest() -> None:
    order = returned(invoiced(TWO_A, [[2]]), [("1", 2, CHANGED_MIND)], [[("1", 1)]])
    service, store, provider = service_for(order)
    ret = order.returns[0]
    result = service.refund_receipt(order.order_id, ret.return_id, ret.receipts[0].receipt_id)
    assert (result["refunded"], result["status"]) == ("14.88", "PARTIALLY_RECEIVED")
    assert len(provider.refunds) == 1 and "ReturnRefunded" not in names(store)


def test_a_lost_race_for_the_number_takes_the_next_and_leaves_no_gap() -> None:
    order = returned(invoiced(TWO_A, [[2]]), [("1", 1, DAMAGED)], [[("1", 1)]])
    service, store, _ = service_for(order)
    store.races = ["number_taken", "order_changed"]
    ret = order.returns[0]
    result = service.refund_receipt(order.order_id, ret.return_id, ret.receipts[0].receipt_id)
    assert result["credit_notes"] == ["CN-2026-000002"] and store.counters == {(LE, 2026): 2}


def test_no_number_after_every_attempt_is_retried_by_the_workflow() -> None:
    order = returned(invoiced(TWO_A, [[2]]), [("1", 1, DAMAGED)], [[("1", 1)]])
    service, store, provider = service_for(order)
    store.races = ["number_taken"] * 50
    ret = order.returns[0]
    with pytest.raises(TransientError, match="no credit note number"):
        service.refund_receipt(order.order_id, ret.return_id, ret.receipts[0].receipt_id)
    assert store.order.credit_notes == () and provider.refunds == []


def test_an_on_account_order_gets_its_credit_back_without_a_provider_call() -> None:
    order = returned(invoiced(TWO_A, [[2]], method="on_account"), [("1", 1, DAMAGED)], [[("1", 1)]])
    service, store, provider = service_for(order)
    ret = order.returns[0]
    result = service.refund_receipt(order.order_id, ret.return_id, ret.receipts[0].receipt_id)
    assert (result["refunded"], result["status"]) == ("14.88", "REFUNDED")
    assert provider.refunds == [] and store.credit_back == Decimal("14.88")
    assert store.order.credit_notes[0].refund_status == RefundStatus.CREDITED
    assert names(store) == ["CreditNoteIssued", "RefundIssued", "ReturnRefunded"]


def test_a_refund_above_what_the_order_may_still_refund_is_refused_and_never_reaches_the_provider() -> None:
    order = returned(invoiced(TWO_A, [[2]]), [("1", 1, DAMAGED)], [[("1", 1)]])
    service, store, provider = service_for(order)
    store.refunded_total = Decimal("30.00")  # refunded before (e.g. by hand at the provider, recorded)
    ret = order.returns[0]
    with pytest.raises(PaymentDeclined, match="amount_exceeds_captured"):
        service.refund_receipt(order.order_id, ret.return_id, ret.receipts[0].receipt_id)
    assert provider.refunds == [] and store.order.credit_notes[0].refunded_at is None


def test_a_declined_refund_is_flagged_once_with_its_note_failed() -> None:
    order = returned(invoiced(TWO_A, [[2]]), [("1", 1, DAMAGED)], [[("1", 1)]])
    order = replace(order, invoices=(replace(order.invoices[0], payment_reference="auth_decline_cap_1"),))
    service, store, _ = service_for(order)
    ret = order.returns[0]
    receipt_id = ret.receipts[0].receipt_id
    with pytest.raises(PaymentDeclined):
        service.refund_receipt(order.order_id, ret.return_id, receipt_id)
    error = {"Error": "PaymentDeclined", "Cause": '{"errorMessage": "charge_not_captured: ..."}'}
    first = service.flag(order.order_id, ret.return_id, receipt_id, error)
    again = service.flag(order.order_id, ret.return_id, receipt_id, error)
    assert (first["flagged"], again["flagged"]) == (True, False)
    assert store.flags == {f"{ret.return_id}#{receipt_id}": "PaymentDeclined"}
    assert store.order.credit_notes[0].refund_status == RefundStatus.FAILED
    assert names(store).count("FinanceReviewRequired") == 1
    # the refused refund's claim is withdrawn: later refunds of the order are judged without it
    assert store.refunded_total == 0 and store.order.credit_notes[0].refund_claimed_at is None


def test_a_refunded_receipt_is_never_flagged() -> None:
    order = returned(invoiced(TWO_A, [[2]]), [("1", 1, DAMAGED)], [[("1", 1)]])
    service, store, _ = service_for(order)
    ret = order.returns[0]
    service.refund_receipt(order.order_id, ret.return_id, ret.receipts[0].receipt_id)
    assert service.flag(order.order_id, ret.return_id, ret.receipts[0].receipt_id, {"Error": "X"})["flagged"] is False
    assert store.flags == {}


def test_an_exchange_is_not_credited() -> None:
    order = returned(invoiced(TWO_A, [[2]]), [("1", 1, DAMAGED)], [[("1", 1)]], outcome=ReturnOutcome.EXCHANGE)
    service, store, provider = service_for(order)
    ret = order.returns[0]
    with pytest.raises(Exception, match="exchange"):
        service.refund_receipt(order.order_id, ret.return_id, ret.receipts[0].receipt_id)
    assert store.order.credit_notes == () and provider.refunds == []



def test_tiny_taxes_returned_a_unit_at_a_time_are_never_negative_and_add_up() -> None:
    # 4 × 0.03 at 19 %: the line's tax is 0.02; shared unit by unit, rounding each share on its
    # own would credit 0.01, 0.01, 0.01 and then -0.01
    order = invoiced([{"sku": "A", "quantity": 4, "unit_price": "0.03"}], [[4]])
    order = returned(order, [("1", 4, CHANGED_MIND)], [[("1", 1)]] * 4)
    for k in range(1, 5):
        notes = credit(order, receipt=k, first=len(order.credit_notes) + 1)
        order = replace(order, credit_notes=(*order.credit_notes, *notes))
    taxes = [n.tax for n in order.credit_notes]
    assert all(t >= 0 for t in taxes) and sum(taxes) == order.invoices[0].lines[0].tax == Decimal("0.02")


def test_shipping_comes_back_once_the_whole_order_is_back_if_any_return_was_the_merchants_fault() -> None:
    lines = [{"sku": "A", "quantity": 1, "unit_price": "10.00"}, {"sku": "B", "quantity": 1, "unit_price": "5.00"}]
    order = invoiced(lines, [[1], [1]])
    order = returned(order, [("1", 1, DAMAGED)], [[("1", 1)]], n=1)  # damaged, half the order
    (first,) = credit(order, n=1)
    order = replace(order, credit_notes=(first,))
    # the rest comes back later as a change of mind: now the whole order is back
    order = returned(order, [("2", 1, CHANGED_MIND)], [[("2", 1)]], n=2)
    (second,) = credit(order, n=2, first=2)
    assert first.shipping_net == 0 and second.shipping_net == Decimal("4.90")
    # and a closed first return's units still count as back
    closed = replace(order, returns=(replace(order.returns[0], status=ReturnStatus.CLOSED), order.returns[1]))
    assert credit(closed, n=2, first=2)[0].shipping_net == Decimal("4.90")


def test_an_exchange_closed_with_part_of_it_in_is_refunded_what_came() -> None:
    order = returned(invoiced(TWO_A, [[2]]), [("1", 2, DAMAGED)], [[("1", 1)]], outcome=ReturnOutcome.EXCHANGE)
    order = replace(order, returns=(replace(order.returns[0], status=ReturnStatus.CLOSED),))
    service, _, provider = service_for(order)
    ret = order.returns[0]
    result = service.refund_receipt(order.order_id, ret.return_id, ret.receipts[0].receipt_id)
    assert (result["refunded"], result["status"]) == ("14.88", "CLOSED") and len(provider.refunds) == 1


def test_a_run_that_fails_after_another_finished_the_exchange_is_not_flagged() -> None:
    order = returned(invoiced(TWO_A, [[2]]), [("1", 1, DAMAGED)], [[("1", 1)]], outcome=ReturnOutcome.EXCHANGE)
    order = replace(order, returns=(replace(order.returns[0], status=ReturnStatus.EXCHANGED,
                                            exchange_order_id="ord_X"),))
    service, store, _ = service_for(order)
    ret = order.returns[0]
    result = service.flag(order.order_id, ret.return_id, ret.receipts[0].receipt_id, {"Error": "CaptureInProgress"})
    assert result["flagged"] is False and store.flags == {}
