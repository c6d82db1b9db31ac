"""Finance's ledger and reconciliation (functions/invoice/ledger.py): what finance notices when it
closes a period — books that agree reconcile to 0.00 in every currency, whatever mix of card,
on-account, failed and free documents and credit notes across the period's edges; a capture or
refund the archive lacks moves the difference by exactly its amount; an unarchived issue event,
an archived payment with no document and anything not settled are findings, never hidden."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from functions.invoice.ledger import ArchivedEvent, Period, PeriodError, build, documents_of

pytestmark = pytest.mark.timeout(120)

PERIOD = Period.of(date(2026, 11, 1), date(2026, 11, 30))
BEFORE, DURING, AFTER = "2026-10-20T10:00:00.000Z", "2026-11-15T10:00:00.000Z", "2026-12-03T10:00:00.000Z"
WHEN = {"before": BEFORE, "during": DURING, "after": AFTER, "last_minute": "2026-11-30T23:59:59.900Z"}


def envelope(detail_type: str, event_id: str, at: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"version": "0", "id": f"eb-{event_id}", "detail-type": detail_type, "source": "oms.invoice",
            "account": "000000000000", "time": at[:19] + "Z", "region": "eu-central-1", "resources": [],
            "detail": {"metadata": {"event_id": event_id, "occurred_at": at, "version": "1",
                                    "correlation_id": data.get("order_id")}, "data": data}}


def archived(detail_type: str, event_id: str, at: str, data: dict[str, Any]) -> ArchivedEvent:
    return ArchivedEvent.of(envelope(detail_type, event_id, at, data))


@dataclass
class Books:
    """Documents as the table lists them and events as the archive holds them, kept consistent."""

    documents: list[dict[str, Any]] = field(default_factory=list)
    later: list[dict[str, Any]] = field(default_factory=list)
    events: list[ArchivedEvent] = field(default_factory=list)
    n: int = 0

    def _next(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}-2026-{self.n:06d}"

    def _event(self, detail_type: str, at: str, data: dict[str, Any]) -> ArchivedEvent:
        e = archived(detail_type, f"evt_{self.n}_{len(self.events)}", at, data)
        self.events.append(e)
        return e

    def _file(self, doc: dict[str, Any], when: str) -> None:
        if when == "during" or when == "last_minute":
            self.documents.append(doc)
        elif when == "after" and doc["kind"] == "credit_note":
            self.later.append(doc)
        self._event("CreditNoteIssued" if doc["kind"] == "credit_note" else "InvoiceIssued", doc["issued_at"],
                    {k: v for k, v in doc.items() if k != "open_amount"})

    def order(self, *, currency: str, method: str, gross: Decimal, failed: bool, when: str,
              received: Decimal, credits: list[tuple[Decimal, str, bool]]) -> dict[str, Any]:
        number, order_id = self._next("INV"), f"ord_{self.n}"
        if method == "none":
            gross = Decimal("0.00")
        status = {"card": "FAILED" if failed else "CAPTURED", "on_account": "ON_ACCOUNT",
                  "none": "CAPTURED"}[method]
        reference = f"ch_{number}" if status == "CAPTURED" and method == "card" else None
        inv: dict[str, Any] = {
            "invoice_number": number, "kind": "invoice", "order_id": order_id, "issued_at": WHEN[when],
            "currency": currency, "net": str(gross), "tax": "0.00", "gross": str(gross),
            "payment_status": status, "payment_reference": reference, "corrects": None, "open_amount": None}
        left = gross
        notes: list[dict[str, Any]] = []
        for part, cn_when, cn_failed in credits:
            amount = min(part, left)
            left -= amount
            if WHEN[cn_when] < WHEN[when]:  # a credit note follows its invoice
                cn_when = "after"
            cn_status = {"FAILED": "FAILED", "ON_ACCOUNT": "CREDITED"}.get(status, "REFUNDED")
            if cn_failed and cn_status == "REFUNDED":
                cn_status = "FAILED"
            cn_ref = f"re_{number}_{len(notes)}" if cn_status == "REFUNDED" and reference and amount else None
            notes.append({"invoice_number": self._next("CN"), "kind": "credit_note", "order_id": order_id,
                          "issued_at": WHEN[cn_when], "currency": currency, "net": str(amount), "tax": "0.00",
                          "gross": str(amount), "payment_status": cn_status, "payment_reference": cn_ref,
                          "corrects": number})
        if status == "ON_ACCOUNT":
            received = min(received, left)
            inv["open_amount"] = str(left - received)
        self._file(inv, when)
        if reference:
            self._event("PaymentCaptured", inv["issued_at"], {**inv, "amount": str(gross)})
        if status == "ON_ACCOUNT" and received:
            self._event("PaymentReceived", AFTER, {"order_id": order_id, "invoice_number": number,
                                                   "amount": str(received), "payment_reference": f"bank-{number}",
                                                   "open_amount": inv["open_amount"], "currency": currency})
        for cn in notes:
            self._file(cn, next(k for k, v in WHEN.items() if v == cn["issued_at"]))
            if cn["payment_reference"]:
                self._event("PaymentRefunded", cn["issued_at"], {
                    **cn, "amount": cn["gross"], "method": "card"})
        return inv

    def ledger(self, **kwargs: Any) -> Any:
        return build(PERIOD, self.documents, self.events, later_credit_notes=self.later, **kwargs)


money = st.decimals(min_value=0, max_value=2000, places=2, allow_nan=False, allow_infinity=False)
credit = st.tuples(money, st.sampled_from(["before", "during", "after", "last_minute"]), st.booleans())
orders = st.lists(st.fixed_dictionaries({
    "currency": st.sampled_from(["EUR", "GBP"]), "method": st.sampled_from(["card", "on_account", "none"]),
    "gross": money, "failed": st.booleans(), "when": st.sampled_from(["before", "during", "last_minute", "after"]),
    "received": money, "credits": st.lists(credit, max_size=3)}), min_size=1, max_size=12)


def books_of(spec: list[dict[str, Any]]) -> Books:
    books = Books()
    for o in spec:
        books.order(**o)
    return books


@settings(max_examples=150, deadline=None)
@given(orders)
def test_books_that_agree_reconcile_to_zero_in_every_currency(spec: list[dict[str, Any]]) -> None:
    # Given any mix of card, on-account, failed and free orders, credit notes across the period's edges
    books = books_of(spec)
    # When the period is exported, the archive redelivering every event once more
    ledger = build(PERIOD, books.documents, books.events + books.events, later_credit_notes=books.later)
    # Then every currency reconciles to 0.00 and there is nothing to look at
    assert ledger.findings == []
    for rec in ledger.reconciliations.values():
        assert rec.difference == 0, rec.lines()
        assert rec.lines()[-1] == f"difference: {'0.00'}"
    # and every document of the period is a row of the ledger, once
    numbers = [str(r.number) for r in ledger.rows if r.source == "table"]
    assert sorted(numbers) == sorted(d["invoice_number"] for d in books.documents)


@settings(max_examples=100, deadline=None)
@given(orders, st.data())
def test_a_capture_the_archive_lacks_is_a_difference_of_exactly_its_amount(spec: list[dict[str, Any]],
                                                                          data: st.DataObject) -> None:
    # Given books that agree, with at least one captured invoice of the period
    books = books_of([*spec, {"currency": "EUR", "method": "card", "gross": Decimal("119.00"), "failed": False,
                              "when": "during", "received": Decimal(0), "credits": []}])
    captures = [e for e in books.events if e.detail_type == "PaymentCaptured"
                and PERIOD.holds(e.data["issued_at"])]
    lost = data.draw(st.sampled_from(captures))
    # When that capture never reached the archive
    ledger = build(PERIOD, books.documents, [e for e in books.events if e is not lost],
                   later_credit_notes=books.later)
    # Then its currency's difference is exactly its amount, and the finding names the invoice
    c = lost.data["currency"]
    assert ledger.reconciliations[c].difference == Decimal(lost.data["amount"])
    assert [(f.kind, f.number, f.effect) for f in ledger.findings] == [
        ("capture_not_archived", lost.number, Decimal(lost.data["amount"]))]
    assert all(r.difference == 0 for k, r in ledger.reconciliations.items() if k != c)


def test_a_refund_the_archive_lacks_is_a_difference_of_minus_its_amount() -> None:
    books = Books()
    books.order(currency="EUR", method="card", gross=Decimal("100.00"), failed=False, when="during",
                received=Decimal(0), credits=[(Decimal("30.00"), "during", False)])
    refund = next(e for e in books.events if e.detail_type == "PaymentRefunded")
    ledger = build(PERIOD, books.documents, [e for e in books.events if e is not refund])
    assert ledger.reconciliations["EUR"].difference == Decimal("-30.00")
    assert [f.kind for f in ledger.findings] == ["refund_not_archived"]


def test_a_payment_received_the_archive_lacks_is_named_with_its_amount() -> None:
    # Given an on-account invoice of 100.00, credited 20.00, of which 50.00 was paid (30.00 open)
    books = Books()
    books.order(currency="EUR", method="on_account", gross=Decimal("100.00"), failed=False, when="during",
                received=Decimal("50.00"), credits=[(Decimal("20.00"), "after", False)])
    received = next(e for e in books.events if e.detail_type == "PaymentReceived")
    # When the payment never reached the archive (still buffered, or lost)
    ledger = build(PERIOD, books.documents, [e for e in books.events if e is not received],
                   later_credit_notes=books.later)
    # Then the difference is the payment, and a finding names the invoice with it
    assert ledger.reconciliations["EUR"].difference == Decimal("50.00")
    assert [(f.kind, f.number, f.effect) for f in ledger.findings] == [
        ("received_not_archived", received.number, Decimal("50.00"))]


def test_a_capture_archived_for_an_invoice_on_the_review_list_is_named() -> None:
    # Given an invoice whose capture the table says failed (on finance's review list)
    books = Books()
    inv = books.order(currency="EUR", method="card", gross=Decimal("40.00"), failed=True, when="during",
                      received=Decimal(0), credits=[])
    # When the archive nevertheless has a capture for it (the money moved)
    events = [*books.events, archived("PaymentCaptured", "evt_x", DURING, {**inv, "amount": "40.00"})]
    ledger = build(PERIOD, books.documents, events)
    # Then the difference shows it, and so does a finding
    assert ledger.reconciliations["EUR"].difference == Decimal("-40.00")
    assert [(f.kind, f.effect) for f in ledger.findings] == [("captured_but_failed", Decimal("-40.00"))]


def test_an_unarchived_issue_is_a_finding_though_the_terms_from_the_table_still_agree() -> None:
    # Given an invoice whose InvoiceIssued never reached the archive (its capture did)
    books = Books()
    inv = books.order(currency="EUR", method="card", gross=Decimal("50.00"), failed=False, when="during",
                      received=Decimal(0), credits=[])
    events = [e for e in books.events if e.detail_type != "InvoiceIssued"]
    # When the period is exported
    ledger = build(PERIOD, books.documents, events)
    # Then it is listed as a finding: the archive's gap is shown, not hidden behind 0.00
    assert [(f.kind, f.number) for f in ledger.findings] == [("not_archived", inv["invoice_number"])]
    assert ledger.reconciliations["EUR"].difference == 0 and not ledger.reconciled


def test_an_archived_payment_with_no_document_anywhere_is_in_the_difference() -> None:
    books = Books()
    books.order(currency="EUR", method="card", gross=Decimal("10.00"), failed=False, when="during",
                received=Decimal(0), credits=[])
    stray = archived("PaymentCaptured", "evt_stray", DURING, {"order_id": "ord_x", "invoice_number": "INV-2026-999999",
                                                              "amount": "5.00", "currency": "EUR"})
    ledger = build(PERIOD, books.documents, [*books.events, stray], known=lambda _: False)
    assert ledger.reconciliations["EUR"].captured == Decimal("15.00")
    assert ledger.reconciliations["EUR"].difference == Decimal("-5.00")
    assert [(f.kind, f.number) for f in ledger.findings] == [("no_document", "INV-2026-999999")]
    # while a payment of the period for a document of another period belongs to that period's export
    ledger = build(PERIOD, books.documents, [*books.events, stray], known=lambda _: True)
    assert ledger.reconciled and ledger.notes


def test_an_invoice_not_yet_settled_is_a_finding_in_the_difference() -> None:
    doc = {"invoice_number": "INV-2026-000001", "kind": "invoice", "order_id": "ord_1", "issued_at": DURING,
           "currency": "EUR", "gross": "20.00", "payment_status": "PENDING", "payment_reference": None}
    ledger = build(PERIOD, [doc], [archived("InvoiceIssued", "e1", DURING, doc)])
    assert ledger.reconciliations["EUR"].difference == Decimal("20.00")
    assert [f.kind for f in ledger.findings] == ["not_settled"]


def test_an_event_just_before_midnight_filed_the_next_day_is_still_the_periods() -> None:
    # the archive is read from the day before the period to the day after today
    days = PERIOD.archive_days(date(2026, 12, 1))
    assert days[0] == date(2026, 10, 31) and days[-1] == date(2026, 12, 2)
    assert PERIOD.holds("2026-11-30T23:59:59.999Z") and not PERIOD.holds("2026-12-01T00:00:00.000Z")


@pytest.mark.parametrize(("first", "last", "field"), [
    (date(2026, 11, 30), date(2026, 11, 1), "--to"),
    (date(2026, 1, 1), date(2027, 1, 2), "--to"),
])
def test_a_period_that_is_none_is_refused_naming_the_option(first: date, last: date, field: str) -> None:
    with pytest.raises(PeriodError) as e:
        Period.of(first, last)
    assert e.value.field == field
    Period.of(date(2028, 1, 1), date(2028, 12, 31))  # a leap year is one period


def test_documents_are_read_page_after_page() -> None:
    # Given a listing of 250 documents, 100 a page
    docs = [{"invoice_number": f"INV-2026-{n:06d}"} for n in range(250)]
    calls: list[str | None] = []

    def list_page(*, first: date, last: date, kind: str | None, limit: int, token: str | None
                  ) -> tuple[list[dict[str, Any]], str | None]:
        calls.append(token)
        start = int(token or 0)
        return docs[start:start + limit], (str(start + limit) if start + limit < len(docs) else None)

    pages: list[int] = []
    assert list(documents_of(list_page, date(2026, 11, 1), date(2026, 11, 30), on_page=pages.append)) == docs
    assert calls == [None, "100", "200"] and pages == [1, 2, 3]


def test_the_printed_reconciliation_reads_back_and_ends_with_the_difference() -> None:
    import csv
    import io
    import json

    from oms.finance import Format, parse_reconciliation, reconciliation_lines, write_rows

    # Given a period of two currencies, one capture of which the archive lacks
    books = Books()
    books.order(currency="EUR", method="card", gross=Decimal("100.00"), failed=False, when="during",
                received=Decimal(0), credits=[(Decimal("19.99"), "during", False)])
    lost = books.order(currency="GBP", method="card", gross=Decimal("5.50"), failed=False, when="during",
                       received=Decimal(0), credits=[])
    events = [e for e in books.events if not (e.detail_type == "PaymentCaptured" and e.number
                                                  == lost["invoice_number"])]
    ledger = build(PERIOD, books.documents, events)
    # When it is printed
    text = "\n".join(reconciliation_lines(ledger))
    parsed = parse_reconciliation(text)
    # Then each term is on its own line per currency, the finding is named, and the last line is a difference
    assert parsed["currencies"]["EUR"] == {"invoices": "100.00", "credit_notes": "19.99", "captured": "100.00",
                                           "refunded": "19.99", "received": "0.00", "open": "0.00", "review": "0.00",
                                           "difference": "0.00"}
    assert parsed["currencies"]["GBP"]["difference"] == "5.50" and parsed["difference"] == "5.50"
    assert text.splitlines()[-1] == "difference: 5.50"
    assert len(parsed["findings"]) == 1 and "capture_not_archived " + lost["invoice_number"] in parsed["findings"][0]
    # and the ledger is a csv with a header, or one JSON object a line, amounts with the currency's decimals
    out = io.StringIO()
    write_rows(ledger, Format.csv, out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert len(rows) == len(ledger.rows) == 5 and {r["amount"] for r in rows} >= {"100.00", "19.99", "5.50"}
    out = io.StringIO()
    write_rows(ledger, Format.jsonl, out)
    assert [json.loads(line)["kind"] for line in out.getvalue().splitlines()] == [r["kind"] for r in rows]


def test_an_empty_period_still_ends_with_a_difference_line() -> None:
    from oms.finance import reconciliation_lines

    assert reconciliation_lines(build(PERIOD, [], []))[-1] == "difference: 0.00"
