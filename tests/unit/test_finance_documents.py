"""Finance's documents (API.md "Finance"): what an invoice or credit note prints (lines with their
rates and EN 16931 categories, shipping as a line, the breakdown, the parties, the tax note, the
due date), finance's listing across months, who may read one, and rendering once."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from functions.capture.capturing import CaptureService
from functions.capture.ports import VatCheck
from functions.core.errors import BadRequest, NotFound, ValidationFailed
from functions.core.invoices import CreditNote, invoice_view
from functions.core.orders import Order, OrderLine, Shipment, ShipmentLine, ShipmentStatus, shipment_id_for
from functions.core.principal import Principal
from functions.core.taxes import legal_entity
from functions.invoice.billing import bill
from functions.invoice.document import document_of, document_view
from functions.invoice.document_queries import DocumentQueries
from functions.invoice.ports import DocumentFiles
from functions.invoice.rendering import RenderService
from tests.unit.fakes import FakeOrderStore
from tests.unit.test_capture_logic import WEBSHOP, body

ACME = legal_entity("ACME-DE")
AT = "2026-11-23T10:00:00.000Z"


class Vies:
    def check(self, vat_id: str) -> VatCheck:
        return VatCheck.VALID


def invoiced(*, country: str = "DE", vat_id: str | None = None, locale: str = "en-GB",
             payment: dict[str, Any] | None = None, lines: list[dict[str, Any]] | None = None,
             purchase_order_number: str | None = "PO-4711") -> Order:
    """A captured order (taxed as ACME-DE taxes it) with one invoice for all of it."""
    customer = {"customer_id": "C-42", "email": "ada@example.com", "locale": locale,
                **({"vat_id": vat_id} if vat_id else {})}
    address = {"name": "Ada Lovelace", "company": "Analytical Ltd" if vat_id else None, "line1": "Street 1",
               "city": "City", "postal_code": "12345", "country": country}
    new = body(customer=customer, shipping_address={k: v for k, v in address.items() if v is not None},
               shipping_price="10.00", purchase_order_number=purchase_order_number,
               lines=lines or [{"sku": "MUG", "quantity": 2, "unit_price": "12.50"},
                               {"sku": "BOOK", "quantity": 1, "unit_price": "9.99", "tax_class": "reduced"}],
               payment=payment or {"method": "card", "authorization_id": "auth_1", "amount": "999.00"})
    credit = {("webshop", "C-42"): Decimal("100000")}
    order = CaptureService(store=FakeOrderStore(credit=credit), legal_entity=ACME, vat_registry=Vies()).capture(
        new, WEBSHOP)
    shipment = Shipment(shipment_id=shipment_id_for(order.order_id, 1), order_id=order.order_id, node_id="DC",
                        status=ShipmentStatus.DISPATCHED, requested_at=AT,
                        lines=tuple(ShipmentLine(ln.line_id, ln.sku, ln.quantity) for ln in order.lines))
    order = replace(order, shipments=(shipment,))
    invoice = bill(order, shipment, number="INV-2026-000007", issued_at=AT, legal_entity="ACME-DE",
                   with_shipping=True)
    return replace(order, invoices=(invoice,))


def test_a_german_invoice_prints_each_line_at_its_rate_with_shipping_and_a_breakdown() -> None:
    order = invoiced()
    doc = document_of(order, "INV-2026-000007", ACME)
    view = document_view(doc)
    assert [(ln["line_id"], ln["tax_category"], ln["tax_rate"], ln["net"], ln["tax"]) for ln in view["lines"]] == [
        ("1", "S", "0.19", "25.00", "4.75"), ("2", "S", "0.07", "9.99", "0.70"),
        ("shipping", "S", "0.19", "10.00", "1.90")]
    assert [(b["tax_category"], b["tax_rate"], b["basis"], b["tax"]) for b in view["tax_breakdown"]] == [
        ("S", "0.19", "35.00", "6.65"), ("S", "0.07", "9.99", "0.70")]
    # the document adds up to the invoice, which is the order's total
    assert doc.net + doc.tax == doc.gross == order.totals.total
    assert sum((b.basis for b in doc.breakdown), Decimal(0)) == doc.net
    assert doc.tax_note is None and doc.purchase_order_number == "PO-4711"
    assert doc.seller.vat_id == "DE100000008" and doc.due_date == "2026-11-23"  # a card invoice: paid


def test_a_reverse_charged_invoice_names_the_buyers_vat_id_and_the_note() -> None:
    order = invoiced(country="FR", vat_id="FR40303265045", locale="de-DE")
    doc = document_of(order, "INV-2026-000007", ACME)
    assert {ln.tax_category for ln in doc.lines} == {"AE"} and doc.tax == 0
    (group,) = doc.breakdown
    assert group.exemption_code == "VATEX-EU-AE" and group.exemption_reason == doc.tax_note
    assert doc.language == "de" and "innergemeinschaftliche Lieferung" in (doc.tax_note or "")
    assert doc.buyer.vat_id == "FR40303265045" and doc.buyer.name == "Analytical Ltd"
    assert doc.buyer.email is None  # finance reads the documents: no customer contact data


def test_an_on_account_invoice_is_due_after_the_terms() -> None:
    order = invoiced(payment={"method": "on_account"})
    assert document_of(order, "INV-2026-000007", ACME).due_date == "2026-12-23"


def test_an_order_captured_before_tax_schemes_still_prints_its_rates() -> None:
    order = replace(invoiced(), tax=None)
    doc = document_of(order, "INV-2026-000007", ACME)
    assert [ln.tax_rate for ln in doc.lines] == [Decimal("0.190"), Decimal("0.070"), Decimal("0.190")]


def test_a_credit_note_corrects_its_invoice() -> None:
    order = invoiced()
    note = CreditNote(credit_note_number="CN-2026-000002", order_id=order.order_id, return_id="ret_1",
                      receipt_id="RCV-1", corrects="INV-2026-000007", legal_entity="ACME-DE", currency="EUR",
                      issued_at="2026-11-30T09:00:00.000Z",
                      lines=(OrderLine(line_id="1", sku="MUG", quantity=1, unit_price=Decimal("12.50"),
                                       tax_class="standard", net=Decimal("12.50"), tax=Decimal("2.38")),),
                      shipping_net=Decimal(0), shipping_tax=Decimal(0), net=Decimal("12.50"), tax=Decimal("2.38"),
                      gross=Decimal("14.88"))
    doc = document_of(replace(order, credit_notes=(note,)), "CN-2026-000002", ACME)
    assert (doc.kind, doc.corrects, doc.gross, doc.due_date) == ("credit_note", "INV-2026-000007",
                                                                 Decimal("14.88"), "2026-11-30")
    assert [ln.line_id for ln in doc.lines] == ["1"]  # no shipping credited
    with pytest.raises(KeyError):
        document_of(order, "CN-2026-000099", ACME)


@dataclass
class Index:
    """Finance's index in memory: documents by month, ``page`` at a time, and by number."""

    documents: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    page: int = 2
    asked: list[str] = field(default_factory=list)

    def month(self, legal_entity: str, month: str, *, first: str, last: str, kind: str | None, limit: int,
              token: str | None) -> tuple[list[dict[str, Any]], str | None]:
        self.asked.append(month)
        found = [v for o, v in self.documents if v["issued_at"][:7] == month and first <= v["issued_at"][:10] <= last
                 and (kind is None or v["kind"] == kind)]
        start = int(token or 0)
        end = start + min(limit, self.page)
        return found[start:end], (str(end) if end < len(found) else None)

    def order_of(self, number: str) -> str | None:
        return next((o for o, v in self.documents if v["invoice_number"] == number), None)


@dataclass
class Links:
    rendered: set[str] = field(default_factory=set)

    def files(self, order_id: str, number: str) -> DocumentFiles | None:
        return DocumentFiles(f"{number}.pdf", f"{number}.xml") if number in self.rendered else None

    def link(self, key: str, filename: str) -> str:
        return f"https://bucket.example/{key}?signed"


def _doc(n: int, issued: str, kind: str = "invoice") -> tuple[str, dict[str, Any]]:
    return "ord_1", {"invoice_number": f"INV-2026-{n:06d}", "kind": kind, "order_id": "ord_1", "issued_at": issued,
                     "net": "1.00", "tax": "0.19", "gross": "1.19", "currency": "EUR", "payment_status": "CAPTURED",
                     "payment_reference": "cap_1", "legal_entity": "ACME-DE"}


@dataclass
class Orders:
    orders: list[Order]

    def get(self, order_id: str) -> Order | None:
        return next((o for o in self.orders if o.order_id == order_id), None)


def queries(index: Index, *orders: Order, links: Links | None = None) -> DocumentQueries:
    return DocumentQueries(orders=Orders(list(orders)), index=index, links=links or Links(),  # type: ignore[arg-type]
                           legal_entity="ACME-DE")


def test_finance_pages_through_a_period_across_months_in_order_of_issue() -> None:
    index = Index([_doc(1, "2026-10-31T23:59:59.000Z"), _doc(2, "2026-11-01T00:00:00.000Z"),
                   _doc(3, "2026-11-15T10:00:00.000Z"), _doc(4, "2026-11-30T23:00:00.000Z"),
                   _doc(5, "2026-12-01T00:00:00.000Z")])
    q = queries(index)
    numbers: list[str] = []
    token = None
    for _ in range(10):
        page, token = q.list(first=date(2026, 11, 1), last=date(2026, 11, 30), kind=None, limit=2, token=token)
        numbers += [d["invoice_number"] for d in page]
        if token is None:
            break
    assert numbers == ["INV-2026-000002", "INV-2026-000003", "INV-2026-000004"]


def test_a_period_over_new_year_lists_both_months_and_the_kind_filter_keeps_one_kind() -> None:
    index = Index([_doc(1, "2026-12-31T10:00:00.000Z"), _doc(2, "2027-01-01T10:00:00.000Z", "credit_note")])
    all_docs, _ = queries(index).list(first=date(2026, 12, 1), last=date(2027, 1, 31), kind=None, limit=50, token=None)
    notes, _ = queries(index).list(first=date(2026, 12, 1), last=date(2027, 1, 31), kind="credit_note", limit=50,
                                   token=None)
    assert len(all_docs) == 2 and [d["kind"] for d in notes] == ["credit_note"]


def test_a_bad_period_or_token_is_refused() -> None:
    q = queries(Index())
    with pytest.raises(ValidationFailed):
        q.list(first=date(2026, 12, 2), last=date(2026, 12, 1), kind=None, limit=5, token=None)
    with pytest.raises(ValidationFailed):
        q.list(first=date(2025, 1, 1), last=date(2026, 1, 2), kind=None, limit=5, token=None)
    with pytest.raises(BadRequest):  # not a token of this listing
        q.list(first=date(2026, 12, 1), last=date(2026, 12, 31), kind=None, limit=5, token="2026-03|x")
    index = Index([_doc(1, "2026-12-02T10:00:00.000Z"), _doc(2, "2026-12-03T10:00:00.000Z")], page=1)
    _, token = queries(index).list(first=date(2026, 12, 1), last=date(2026, 12, 31), kind=None, limit=1, token=None)
    assert token is not None
    for first, last, kind in ((date(2026, 12, 3), date(2026, 12, 31), None), (date(2026, 12, 1), date(2026, 12, 31),
                                                                              "invoice")):
        with pytest.raises(BadRequest):  # the same token for another period or kind
            queries(index).list(first=first, last=last, kind=kind, limit=1, token=token)


def test_a_channel_reads_its_own_invoice_only_and_links_appear_once_rendered() -> None:
    order = invoiced()
    index = Index([(order.order_id, invoice_view(order.invoices[0]))])
    links = Links()
    q = queries(index, order, links=links)
    mine = q.get("INV-2026-000007", Principal("channel", "webshop"))
    assert mine["gross"] == "52.34" and mine["pdf_url"] is None and mine["einvoice_url"] is None
    with pytest.raises(NotFound):
        q.get("INV-2026-000007", Principal("channel", "marketplace"))
    with pytest.raises(NotFound):
        q.get("INV-2026-000008", Principal("finance", "finance"))
    links.rendered.add("INV-2026-000007")
    doc = q.get("INV-2026-000007", Principal("finance", "finance"))
    assert doc["pdf_url"].endswith("INV-2026-000007.pdf?signed") and doc["einvoice_url"].endswith(".xml?signed")


@dataclass
class Store:
    written: list[str] = field(default_factory=list)

    def files(self, order_id: str, number: str) -> DocumentFiles | None:
        return DocumentFiles("p", "x") if number in self.written else None

    def store(self, order_id: str, legal_entity: str, number: str, pdf: bytes, xml: bytes, at: str) -> bool:
        if number in self.written:
            return False
        self.written.append(number)
        return True


@dataclass
class Rendering:
    pdf: bytes
    xml: bytes


def test_a_document_is_rendered_once_and_a_message_for_nothing_is_dropped() -> None:
    order = invoiced()
    renders: list[str] = []

    def render(doc: Any) -> Rendering:
        renders.append(doc.number)
        return Rendering(b"%PDF", b"<xml/>")

    service = RenderService(orders=Orders([order]), store=Store(), render=render)  # type: ignore[arg-type]
    assert service.render_document(order.order_id, "INV-2026-000007") == "rendered"
    assert service.render_document(order.order_id, "INV-2026-000007") == "already"
    assert service.render_document(order.order_id, "INV-2026-000099") == "unknown"
    assert service.render_document("ord_missing", "INV-2026-000007") == "unknown"
    assert renders == ["INV-2026-000007"]


def test_an_older_orders_rates_come_from_the_table_not_from_its_rounded_taxes() -> None:
    """Given an order captured before tax schemes whose first line is so small that its rounded
    tax over its net is not the rate (0.10 at 19 % is 0.02: 20 %)
    When its invoice is printed
    Then every line shows the destination's real rate."""
    order = invoiced(lines=[{"sku": "PIN", "quantity": 1, "unit_price": "0.10"},
                            {"sku": "MUG", "quantity": 1, "unit_price": "12.50"}])
    assert order.invoices[0].lines[0].tax == Decimal("0.02")
    doc = document_of(replace(order, tax=None), "INV-2026-000007", ACME)
    assert {ln.tax_rate for ln in doc.lines} == {Decimal("0.19")}
    assert [(b.tax_rate, b.basis) for b in doc.breakdown] == [(Decimal("0.19"), Decimal("22.60"))]
