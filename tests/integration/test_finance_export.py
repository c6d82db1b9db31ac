"""Finance's export against the local cloud (moto): the documents in the table deployed from the
synthesized template, the archive as Firehose files it in a finance bucket (``events/dt=…/``,
JSON lines of EventBridge envelopes, redeliveries, a late-filed record, gzip, an error file), read
page after page — and the period reconciles, or shows exactly what the archive lacks."""

from __future__ import annotations

import gzip
import json
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

import boto3
import pytest

from functions.core.adapters.dynamodb import to_item
from functions.core.invoices import CreditNote, Invoice, PaymentStatus, RefundStatus, credit_note_view, invoice_view
from functions.invoice.adapters.credit_note_table import credit_note_item
from functions.invoice.adapters.finance_archive import FinanceArchive
from functions.invoice.adapters.invoice_table import invoice_item
from functions.invoice.billing import bill
from functions.invoice.finance_events import finance_facts
from localcloud.server import LocalCloud
from oms.environment import Environment
from oms.finance import read_ledger, reconciliation_lines
from tests.unit.test_invoicing import order_with

pytestmark = pytest.mark.timeout(120)

ENTITY = "ACME-IT"
BUCKET = "oms-local-finance-export-test"
FIRST, LAST, TODAY = date(2025, 3, 1), date(2025, 3, 31), date(2025, 4, 2)


def envelope(event: Any) -> dict[str, Any]:
    return {"version": "0", "id": f"eb-{event.event_id}", "detail-type": event.name, "source": event.source,
            "account": "000000000000", "time": event.occurred_at[:19] + "Z", "region": "eu-central-1",
            "resources": [], "detail": event.detail()}


def invoice(n: int, issued_at: str, *, reference: str | None) -> Invoice:
    order = order_with([{"sku": "A", "quantity": 1, "unit_price": "100.00"}], [[1]])
    inv = bill(order, order.shipments[0], number=f"INV-2025-7{n:05d}", issued_at=issued_at, legal_entity=ENTITY,
               with_shipping=True)
    return replace(inv, payment_status=PaymentStatus.CAPTURED, payment_reference=reference, settled_at=issued_at)


def events_of(doc: Invoice | CreditNote, *entries: tuple[str, str, dict[str, Any]]) -> list[dict[str, Any]]:
    view = invoice_view(doc) if isinstance(doc, Invoice) else credit_note_view(doc)
    added = [{"id": f"{view['invoice_number']}-{i}", "at": at, "event": name, "detail": detail}
             for i, (name, at, detail) in enumerate(entries)]
    return [envelope(e) for e in finance_facts(doc.order_id, view, added)]


def put_lines(s3: Any, key: str, lines: list[dict[str, Any]], *, compress: bool = False) -> None:
    body = "".join(json.dumps(x) + "\n" for x in lines).encode()
    s3.put_object(Bucket=BUCKET, Key=key, Body=gzip.compress(body) if compress else body)


@pytest.fixture(scope="module")
def books(cloud: LocalCloud, outputs: dict[str, str]) -> dict[str, Any]:
    """March 2025: a captured invoice with a refunded credit note, and one issued in the period's last
    second whose records Firehose filed on April 1st; archived with a redelivery, gzip and an error file."""
    table, db, s3 = outputs["TableName"], boto3.client("dynamodb"), boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
    first = invoice(1, "2025-03-10T09:00:00.000Z", reference="ch_first")
    late = invoice(2, "2025-03-31T23:59:59.500Z", reference="ch_late")
    note = CreditNote(credit_note_number="CN-2025-700001", order_id=first.order_id, return_id="ret", receipt_id="rcp",
                      corrects=first.invoice_number, legal_entity=ENTITY, currency="EUR",
                      issued_at="2025-03-20T12:00:00.000Z", lines=(), shipping_net=Decimal(0),
                      shipping_tax=Decimal(0), net=Decimal("10.00"), tax=Decimal("1.90"), gross=Decimal("11.90"),
                      refund_status=RefundStatus.REFUNDED, refund_reference="re_1",
                      refunded_at="2025-03-20T12:00:01.000Z")
    for item in (invoice_item(first), invoice_item(late), credit_note_item(note)):
        db.put_item(TableName=table, Item=to_item(item))
    first_events = events_of(first, ("InvoiceIssued", first.issued_at, {"invoice_number": first.invoice_number}),
                             ("PaymentCaptured", first.issued_at, {"invoice_number": first.invoice_number,
                                                                   "amount": str(first.gross), "provider": "local"}))
    note_events = events_of(note, ("CreditNoteIssued", note.issued_at, {"invoice_number": note.credit_note_number,
                                                                        "corrects": note.corrects}),
                            ("PaymentRefunded", note.issued_at, {"invoice_number": note.credit_note_number,
                                                                 "corrects": note.corrects, "amount": "11.90",
                                                                 "payment_reference": "re_1"}))
    late_events = events_of(late, ("InvoiceIssued", late.issued_at, {"invoice_number": late.invoice_number}),
                            ("PaymentCaptured", late.issued_at, {"invoice_number": late.invoice_number,
                                                                 "amount": str(late.gross)}))
    put_lines(s3, "events/dt=2025-03-10/oms-finance-1-2025-03-10-09-05-00-a", first_events)
    put_lines(s3, "events/dt=2025-03-10/oms-finance-1-2025-03-10-09-10-00-b", first_events[1:])  # redelivered
    put_lines(s3, "events/dt=2025-03-20/oms-finance-1-2025-03-20-12-05-00-c.gz", note_events, compress=True)
    put_lines(s3, "events/dt=2025-04-01/oms-finance-1-2025-04-01-00-00-30-d", late_events[:1])
    put_lines(s3, "events/dt=2025-04-01/oms-finance-1-2025-04-01-00-00-31-e", late_events[1:])
    put_lines(s3, "events/dt=2025-05-01/oms-finance-1-2025-05-01-00-00-31-f", late_events)  # beyond the read
    s3.put_object(Bucket=BUCKET, Key="errors/processing-failed/2025/03/31/oms-finance-err", Body=b"{}")
    env = Environment(name="local", stack_name="Oms-local", outputs={**outputs, "FinanceBucketName": BUCKET})
    return {"env": env, "first": first, "late": late, "note": note, "late_capture": late_events[1]}


def test_the_archive_is_read_page_after_page_with_redeliveries_and_gzip(books: dict[str, Any]) -> None:
    archive = FinanceArchive(BUCKET, boto3.client("s3"), page_size=1)
    days = [date(2025, 3, 10), date(2025, 3, 20), date(2025, 4, 1)]
    assert len(archive.objects(days)) == 5
    events = archive.events(days)
    assert len(events) == 7 and len({e.event_id for e in events}) == 6 and not archive.unreadable
    assert {e.detail_type for e in events} == {"InvoiceIssued", "PaymentCaptured", "CreditNoteIssued",
                                               "PaymentRefunded"}


def test_the_period_reconciles_on_the_table_and_the_archive(books: dict[str, Any]) -> None:
    # When finance exports March
    ledger = read_ledger(books["env"], FIRST, LAST, legal_entity=ENTITY, today=TODAY)
    # Then the late-filed capture is in it, everything agrees, and the error file is reported
    eur = ledger.reconciliations["EUR"]
    gross = books["first"].gross + books["late"].gross
    assert (eur.invoices, eur.credit_notes, eur.captured, eur.refunded) == (gross, Decimal("11.90"), gross,
                                                                            Decimal("11.90"))
    assert ledger.findings == [] and reconciliation_lines(ledger)[-1] == "difference: 0.00"
    assert any("errors/" in n for n in ledger.notes)
    kinds = [(r.kind, r.number) for r in ledger.rows]
    assert kinds.count(("payment_captured", books["late"].invoice_number)) == 1
    assert len(ledger.rows) == 6  # 2 invoices, 1 credit note, 2 captures, 1 refund


def test_a_capture_the_archive_lacks_shows_as_its_amount(books: dict[str, Any]) -> None:
    # Given the record of the late invoice's capture is lost from the archive
    s3 = boto3.client("s3")
    key = "events/dt=2025-04-01/oms-finance-1-2025-04-01-00-00-31-e"
    s3.delete_object(Bucket=BUCKET, Key=key)
    try:
        ledger = read_ledger(books["env"], FIRST, LAST, legal_entity=ENTITY, today=TODAY)
    finally:
        put_lines(s3, key, [books["late_capture"]])
    # Then the difference is that capture, named
    assert reconciliation_lines(ledger)[-1] == f"difference: {books['late'].gross}"
    assert [(f.kind, f.number) for f in ledger.findings] == [("capture_not_archived", books["late"].invoice_number)]

