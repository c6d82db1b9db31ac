"""Finance's ledger of a period and its reconciliation per currency (API.md "Finance"):

    invoices − credit notes = captured − refunded + received on account
                              + still open on account + on finance's review list

built from the table's documents of the period and the finance events archived to S3 — no
hand-kept copy. No AWS here: the command hands in what its adapters read.

Where each term comes from (``oms finance export --help`` and docs/OPERATIONS.md say the same):

- **invoices**, **credit notes**: the table — the gross of the invoices and credit notes issued
  in the period (``GET /invoices``' listing, UTC dates inclusive).
- **captured**, **refunded**, **received on account**: the archive — the amounts of the
  ``PaymentCaptured`` (by ``invoice_number``), ``PaymentRefunded`` (by the credit note's number)
  and ``PaymentReceived`` (by ``invoice_number``) events of the period's documents, whenever
  they happened up to the export (so a capture retried after the period still settles its
  invoice). An archived payment of the period whose document the table does not have at all is
  counted in its term too (money moved with no document: it shows in the difference).
- **still open on account**: the table — the ``open_amount`` of the period's on-account
  invoices, plus what on-account credit notes issued *after* the period took off them, less
  what the period's on-account credit notes took off invoices of *earlier* periods: so a period
  reconciles on its own documents (an on-account credit note reduces its invoice's open item).
- **on finance's review list**: the table — the gross of the period's invoices whose capture
  failed (``FAILED``) less that of its credit notes whose refund failed (``FAILED``).

Documents settled without money reconcile as 0.00 on both sides: an invoice of 0.00 (a free
shipment) or of an exchange's replacement order (payment method ``none``, priced at 0.00) is
``CAPTURED`` with no payment reference and no ``PaymentCaptured``; its credit notes are 0.00
with no ``PaymentRefunded``. One with a non-zero gross would be a finding, in the difference.

Findings: everything that does not match is listed, with the amount by which it moves the
difference (``0.00`` when no term changes, e.g. a document whose ``InvoiceIssued`` is not
archived: the term comes from the table, but the archive's gap is shown). Amounts are Decimal,
printed with the currency's decimals; ledger amounts are positive, the ``kind`` says which way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from functions.core.money import fmt

#: The longest period one export covers (as ``GET /invoices``: a leap year's financial year).
MAX_DAYS = 366

DOCUMENT_EVENTS = {"InvoiceIssued": "invoice", "CreditNoteIssued": "credit_note"}
PAYMENT_EVENTS = {"PaymentCaptured": "payment_captured", "PaymentRefunded": "payment_refunded",
                  "PaymentReceived": "payment_received", "PaymentVoided": "payment_voided"}
#: The terms of the reconciliation, in the order they are printed, with their labels.
TERMS = (("invoices", "invoices"), ("credit_notes", "credit notes"), ("captured", "captured"),
         ("refunded", "refunded"), ("received", "received on account"), ("open", "still open on account"),
         ("review", "on finance's review list"))
#: The ledger's columns (csv header, jsonl keys).
COLUMNS = ("date", "at", "kind", "number", "order_id", "currency", "amount", "reference", "corrects", "status",
           "source")


class PeriodError(ValueError):
    """The period asked for is not one (from after to, longer than MAX_DAYS): ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class Period:
    first: date
    last: date

    @classmethod
    def of(cls, first: date, last: date) -> Period:
        if last < first:
            raise PeriodError("--to", f"{last.isoformat()} is before --from {first.isoformat()}")
        if (last - first).days >= MAX_DAYS:
            raise PeriodError("--to", f"a period covers at most {MAX_DAYS} days "
                                      f"({first.isoformat()}..{last.isoformat()} is {(last - first).days + 1}); "
                                      "export it in parts")
        return cls(first, last)

    def holds(self, at: str | None) -> bool:
        """Whether the UTC time ``at`` (ISO 8601) falls on one of the period's days."""
        return bool(at) and self.first.isoformat() <= str(at)[:10] <= self.last.isoformat()

    def archive_days(self, today: date) -> list[date]:
        """The archive's partitions to read: from the day before the period (Firehose files an
        event by its arrival, so one of just before midnight can land a day late — and one of
        the period's first minutes is filed on its own day) to the day after ``today`` (what
        happened to the period's documents since, up to now)."""
        end = max(self.last, today) + timedelta(days=1)
        start = self.first - timedelta(days=1)
        return [start + timedelta(days=n) for n in range((end - start).days + 1)]


@dataclass(frozen=True)
class ArchivedEvent:
    """One finance event as the archive holds it (an EventBridge envelope per line)."""

    event_id: str
    detail_type: str
    occurred_at: str
    data: dict[str, Any]

    @classmethod
    def of(cls, envelope: dict[str, Any]) -> ArchivedEvent:
        """Raises ``ValueError`` for a line that is not a finance event envelope."""
        detail = envelope.get("detail")
        if not isinstance(detail, dict) or not isinstance(detail.get("data"), dict):
            raise ValueError("no detail.data")
        metadata: dict[str, Any] = detail["metadata"] if isinstance(detail.get("metadata"), dict) else {}
        event_id = metadata.get("event_id") or envelope.get("id")
        if not event_id or not envelope.get("detail-type"):
            raise ValueError("no event id or detail-type")
        return cls(event_id=str(event_id), detail_type=str(envelope["detail-type"]),
                   occurred_at=str(metadata.get("occurred_at") or envelope.get("time") or ""),
                   data=dict(detail["data"]))

    @property
    def number(self) -> str | None:
        value = self.data.get("invoice_number")
        return str(value) if value else None

    def amount(self) -> Decimal | None:
        value = self.data.get("amount")
        return Decimal(str(value)) if value not in (None, "") else None


@dataclass(frozen=True)
class Row:
    at: str
    kind: str
    number: str | None
    order_id: str | None
    currency: str | None
    amount: Decimal | None
    reference: str | None
    source: str
    corrects: str | None = None
    status: str | None = None

    def view(self) -> dict[str, str | None]:
        amount = None
        if self.amount is not None:
            amount = fmt(self.amount, self.currency) if self.currency else str(self.amount)
        return {"date": self.at[:10], "at": self.at, "kind": self.kind, "number": self.number,
                "order_id": self.order_id, "currency": self.currency, "amount": amount,
                "reference": self.reference, "corrects": self.corrects, "status": self.status,
                "source": self.source}


@dataclass(frozen=True)
class Finding:
    """Something the table and the archive do not agree on (or an item not settled yet).
    ``effect``: how much it moves its currency's difference (0 when no term changes)."""

    kind: str
    number: str | None
    currency: str | None
    effect: Decimal
    message: str

    def line(self) -> str:
        effect = fmt(self.effect, self.currency) if self.currency else str(self.effect)
        return f"{self.kind} {self.number or '-'} ({self.currency or '?'} {effect}): {self.message}"


@dataclass
class Reconciliation:
    currency: str
    invoices: Decimal = Decimal(0)
    credit_notes: Decimal = Decimal(0)
    captured: Decimal = Decimal(0)
    refunded: Decimal = Decimal(0)
    received: Decimal = Decimal(0)
    open: Decimal = Decimal(0)
    review: Decimal = Decimal(0)

    @property
    def difference(self) -> Decimal:
        return (self.invoices - self.credit_notes) - (self.captured - self.refunded + self.received + self.open
                                                      + self.review)

    def lines(self) -> list[str]:
        """The block printed for the currency: a title, each term on its own line, the difference last."""
        c = self.currency
        return [f"reconciliation {c}", *(f"{label}: {fmt(getattr(self, name), c)}" for name, label in TERMS),
                f"difference: {fmt(self.difference, c)}"]

    def view(self) -> dict[str, str]:
        c = self.currency
        return {"currency": c, **{name: fmt(getattr(self, name), c) for name, _ in TERMS},
                "difference": fmt(self.difference, c)}


@dataclass
class Ledger:
    rows: list[Row] = field(default_factory=list)
    reconciliations: dict[str, Reconciliation] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    #: notes that change no term (archive error files, payments of other periods' documents)
    notes: list[str] = field(default_factory=list)

    def of(self, currency: str) -> Reconciliation:
        return self.reconciliations.setdefault(currency, Reconciliation(currency))

    @property
    def reconciled(self) -> bool:
        return not self.findings and all(r.difference == 0 for r in self.reconciliations.values())


def _dec(value: Any) -> Decimal:
    return Decimal(str(value)) if value not in (None, "") else Decimal(0)


def build(period: Period, documents: Iterable[dict[str, Any]], events: Iterable[ArchivedEvent], *,
          later_credit_notes: Iterable[dict[str, Any]] = (), known: Callable[[str], bool] = lambda _: False,
          archive_errors: int = 0) -> Ledger:
    """The ledger of ``period``.

    ``documents``: the table's invoices and credit notes issued in the period (the listing's rows).
    ``events``: the archived finance events read for the period (``Period.archive_days``), in any
    order, redeliveries included (deduplicated here by event id).
    ``later_credit_notes``: the table's credit notes issued after the period, up to now.
    ``known``: whether a document number exists in the table at all (any period).
    ``archive_errors``: how many files Firehose put under its error prefix in those days.
    """
    ledger = Ledger()
    docs = {str(d["invoice_number"]): d for d in documents
            if d.get("invoice_number") and period.holds(d.get("issued_at"))}
    invoices = {n: d for n, d in docs.items() if d.get("kind") != "credit_note"}
    notes = {n: d for n, d in docs.items() if d.get("kind") == "credit_note"}
    unique: dict[str, ArchivedEvent] = {}
    for e in events:
        unique.setdefault(e.event_id, e)
    archived = sorted(unique.values(), key=lambda e: (e.occurred_at, e.event_id))

    def find(kind: str, number: str | None, currency: str | None, effect: Decimal, message: str) -> None:
        ledger.findings.append(Finding(kind, number, currency, effect, message))

    # -- the documents (table), and whether the archive has their issue --------------------------
    issued = {e.number: e for e in archived if e.detail_type in DOCUMENT_EVENTS and e.number}
    for number, d in sorted(docs.items(), key=lambda kv: (str(kv[1].get("issued_at")), kv[0])):
        c, gross, kind = str(d["currency"]), _dec(d.get("gross")), str(d.get("kind") or "invoice")
        ledger.rows.append(Row(at=str(d["issued_at"]), kind=kind, number=number, order_id=d.get("order_id"),
                               currency=c, amount=gross, reference=d.get("payment_reference"), source="table",
                               corrects=d.get("corrects"), status=d.get("payment_status")))
        rec = ledger.of(c)
        if kind == "credit_note":
            rec.credit_notes += gross
        else:
            rec.invoices += gross
        event = "CreditNoteIssued" if kind == "credit_note" else "InvoiceIssued"
        if number not in issued:
            find("not_archived", number, c, Decimal(0), f"the table has this {kind.replace('_', ' ')}, "
                                                        f"the archive no {event}")
        elif _dec(issued[number].data.get("gross")) != gross:
            find("amount_mismatch", number, c, Decimal(0),
                 f"archived {event} says gross {issued[number].data.get('gross')}, the table {fmt(gross, c)}")
    for number, e in issued.items():
        if number not in docs and period.holds(e.occurred_at):
            find("not_in_table", number, e.data.get("currency"), Decimal(0),
                 f"the archive has its {e.detail_type}, the table no such document of the period")

    # -- the payments (archive), matched to the period's documents ----------------------------
    paid: dict[tuple[str, str], list[ArchivedEvent]] = {}
    other_periods = 0
    for e in archived:
        if e.detail_type not in PAYMENT_EVENTS:
            continue
        paid_number, kind = e.number, PAYMENT_EVENTS[e.detail_type]
        if kind == "payment_voided":  # an authorisation released: no document, no money moved
            if period.holds(e.occurred_at):
                ledger.rows.append(Row(at=e.occurred_at, kind=kind, number=None, order_id=e.data.get("order_id"),
                                       currency=e.data.get("currency"), amount=None,
                                       reference=e.data.get("payment_reference"), source="archive"))
            continue
        mine = notes if kind == "payment_refunded" else invoices
        document = mine.get(paid_number or "")
        if document is None:
            if not period.holds(e.occurred_at):
                continue
            if paid_number and known(paid_number):
                other_periods += 1  # it settles a document of another period: that period's export
                continue
            unknown_c, amount = e.data.get("currency"), e.amount() or Decimal(0)
            effect = _add_payment(ledger.of(str(unknown_c)), kind, amount) if unknown_c else Decimal(0)
            find("no_document", paid_number, unknown_c, effect,
                 f"archived {e.detail_type} of {amount} for a document the table does not have")
            ledger.rows.append(_payment_row(e, kind, unknown_c, amount))
            continue
        currency = str(document["currency"])
        given = e.amount()
        paid_amount = given if given is not None else _dec(document.get("gross"))
        _add_payment(ledger.of(currency), kind, paid_amount)
        paid.setdefault((kind, paid_number or ""), []).append(e)
        ledger.rows.append(_payment_row(e, kind, currency, paid_amount))
    if other_periods:
        ledger.notes.append(f"{other_periods} archived payment(s) of the period settle documents of other periods "
                            "(in those periods' exports)")

    # -- what the table says each document's settlement is ------------------------------------
    later = list(later_credit_notes)
    credited: dict[str, Decimal] = {}  # an on-account invoice's credit notes (this period or after)
    every_note = {**{str(d.get("invoice_number")): d for d in later}, **notes}
    for d in every_note.values():
        if d.get("payment_status") == "CREDITED" and d.get("corrects"):
            credited[str(d["corrects"])] = credited.get(str(d["corrects"]), Decimal(0)) + _dec(d.get("gross"))
    for number, d in invoices.items():
        c, gross, status = str(d["currency"]), _dec(d.get("gross")), str(d.get("payment_status") or "")
        rec, captures = ledger.of(c), paid.get(("payment_captured", number), [])
        if len(captures) > 1:
            find("captured_twice", number, c, -sum((_dec(e.data.get("amount")) for e in captures[1:]), Decimal(0)),
                 f"{len(captures)} PaymentCaptured events with different ids")
        if captures and sum((_dec(e.data.get("amount")) for e in captures), Decimal(0)) != gross \
                and len(captures) == 1:
            find("amount_mismatch", number, c, gross - _dec(captures[0].data.get("amount")),
                 f"captured {captures[0].data.get('amount')}, the invoice's gross is {fmt(gross, c)}")
        if status == "CAPTURED":
            if d.get("payment_reference") and not captures:
                find("capture_not_archived", number, c, gross,
                     f"the table records its capture ({d.get('payment_reference')}), the archive no PaymentCaptured")
            elif not d.get("payment_reference") and not captures and gross != 0:
                find("settled_without_payment", number, c, gross, "CAPTURED with no payment reference and no "
                                                                  "PaymentCaptured, yet its gross is not 0.00")
        elif status == "ON_ACCOUNT":
            if d.get("open_amount") is None:
                find("no_open_item", number, c, gross - _received(paid, number),
                     "on account, but the table has no open amount for it")
            else:
                rec.open += _dec(d.get("open_amount"))
                # what the table says was paid (gross less its credit notes less what is open)
                # against what the archive has received: a payment not archived (yet) is named
                booked = gross - credited.get(number, Decimal(0)) - _dec(d.get("open_amount"))
                received = _received(paid, number)
                if booked != received:
                    find("received_not_archived" if booked > received else "received_not_booked", number, c,
                         booked - received, f"the table has {fmt(booked, c)} paid on it, the archive "
                                            f"PaymentReceived of {fmt(received, c)}")
        elif status == "FAILED":
            rec.review += gross
            if captures:
                find("captured_but_failed", number, c, -sum((_dec(e.data.get("amount")) for e in captures), Decimal(0)),
                     "on the review list (its capture failed), yet the archive has a PaymentCaptured")
        elif status == "PENDING":
            if not captures:
                find("not_settled", number, c, gross, "issued, not yet captured or booked on account")
        else:
            find("unknown_status", number, c, Decimal(0), f"payment status {status or 'missing'}")
    for number, d in notes.items():
        c, gross, status = str(d["currency"]), _dec(d.get("gross")), str(d.get("payment_status") or "")
        rec, refunds = ledger.of(c), paid.get(("payment_refunded", number), [])
        corrects = str(d.get("corrects") or "")
        if len(refunds) > 1:
            find("refunded_twice", number, c, sum((_dec(e.data.get("amount")) for e in refunds[1:]), Decimal(0)),
                 f"{len(refunds)} PaymentRefunded events with different ids")
        if status == "REFUNDED":
            if d.get("payment_reference") and not refunds:
                find("refund_not_archived", number, c, -gross,
                     f"the table records its refund ({d.get('payment_reference')}), the archive no PaymentRefunded")
            elif not d.get("payment_reference") and not refunds and gross != 0:
                find("refunded_without_payment", number, c, -gross, "REFUNDED with no payment reference and no "
                                                                    "PaymentRefunded, yet its gross is not 0.00")
        elif status == "CREDITED":
            if corrects not in invoices:  # it took the open item of an invoice of an earlier period down
                rec.open -= gross
        elif status == "FAILED":
            rec.review -= gross
        elif status == "PENDING":
            if not refunds:
                find("not_refunded", number, c, -gross, "issued, its refund not yet done")
        else:
            find("unknown_status", number, c, Decimal(0), f"payment status {status or 'missing'}")
    for d in later:
        if d.get("corrects") in invoices and d.get("payment_status") == "CREDITED" \
                and not period.holds(d.get("issued_at")):
            ledger.of(str(d["currency"])).open += _dec(d.get("gross"))

    if archive_errors:
        ledger.notes.append(f"warning: {archive_errors} file(s) under the archive's errors/ prefix in these days: "
                            "records a Firehose processor failed on, not archived as events "
                            "(see docs/OPERATIONS.md, \"The finance archive\")")
    ledger.rows.sort(key=lambda r: (r.at, r.number or "", r.kind))
    return ledger


def _received(paid: dict[tuple[str, str], list[ArchivedEvent]], number: str) -> Decimal:
    return sum((_dec(e.data.get("amount")) for e in paid.get(("payment_received", number), [])), Decimal(0))


def _add_payment(rec: Reconciliation, kind: str, amount: Decimal) -> Decimal:
    """Add ``amount`` to its term; how it moves the difference."""
    if kind == "payment_captured":
        rec.captured += amount
        return -amount
    if kind == "payment_refunded":
        rec.refunded += amount
        return amount
    rec.received += amount
    return -amount


def _payment_row(e: ArchivedEvent, kind: str, currency: Any, amount: Decimal) -> Row:
    reference = e.data.get("payment_reference")
    return Row(at=e.occurred_at, kind=kind, number=e.number, order_id=e.data.get("order_id"),
               currency=str(currency) if currency else None, amount=amount,
               reference=str(reference) if reference else None, source="archive",
               corrects=e.data.get("corrects") if kind == "payment_refunded" else None)


#: Documents asked for per listing call (``GET /invoices``' page).
PAGE = 100

ListPage = Callable[..., tuple[list[dict[str, Any]], "str | None"]]


def documents_of(list_page: ListPage, first: date, last: date, *, kind: str | None = None,
                 on_page: Callable[[int], None] | None = None) -> Iterator[dict[str, Any]]:
    """Every document the listing (``DocumentQueries.list``) has from ``first`` to ``last``,
    page after page; a span longer than MAX_DAYS is read in parts. ``on_page(n)`` after each page."""
    start, pages = first, 0
    while start <= last:
        end = min(last, start + timedelta(days=MAX_DAYS - 1))
        token: str | None = None
        while True:
            page, token = list_page(first=start, last=end, kind=kind, limit=PAGE, token=token)
            pages += 1
            if on_page:
                on_page(pages)
            yield from page
            if not token:
                break
        start = end + timedelta(days=1)
