"""Renders a finance :class:`Document` as a Factur-X PDF: a readable A4 page (fpdf2) that
carries its EN 16931 CII XML (drafthorse, profile ``en16931`` = ZUGFeRD COMFORT) as the
embedded ``factur-x.xml``, declared PDF/A-3B. Pure Python, no AWS, no network.

The XML is the legally relevant e-invoice (the German B2B e-invoicing rules since 2025
accept ZUGFeRD/Factur-X from the COMFORT profile up), so it is validated against the
Factur-X XSD twice: by drafthorse while serializing and by facturx while embedding."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import facturx
from drafthorse.models.accounting import ApplicableTradeTax
from drafthorse.models.document import Document as CiiDocument
from drafthorse.models.note import IncludedNote
from drafthorse.models.party import TaxRegistration, TradeParty
from drafthorse.models.payment import PaymentMeans, PaymentTerms
from drafthorse.models.tradelines import LineItem
from fpdf import FPDF, FontFace
from fpdf.enums import TableBordersLayout, XPos, YPos

from functions.invoice.document import Document, DocumentLine, Party

FONTS = Path(__file__).with_name("fonts")
FONT = "DejaVu"
#: EN 16931 (Factur-X "en16931", ZUGFeRD 2 COMFORT); drafthorse serializes against this XSD
GUIDELINE = "urn:cen.eu:en16931:2017"
SCHEMA = "FACTUR-X_EN16931"
LEVEL = "en16931"
TYPE_CODES = {"invoice": "380", "credit_note": "381"}
#: UNTDID 4461: 48 bank card; 1 instrument not defined (the document carries no IBAN, so not 58)
PAYMENT_MEANS = {"card": "48", "on_account": "1"}
#: UNTDID 4451 TXD: tax declaration, the subject of the reverse-charge/export note (BT-21)
TAX_NOTE_SUBJECT = "TXD"
#: UN/ECE Rec 20 "one" (piece)
UNIT = "C62"
CENT = Decimal("0.01")

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "invoice": "Invoice", "credit_note": "Credit note", "number": "Number", "issue_date": "Issue date",
        "due_date": "Due date", "order": "Order", "purchase_order": "Your purchase order",
        "corrects": "Corrects invoice", "payment": "Payment", "card": "Card", "on_account": "On account",
        "vat_id": "VAT ID", "description": "Description", "quantity": "Qty", "unit_price": "Unit price",
        "net": "Net", "vat_rate": "VAT %", "vat": "VAT", "gross": "Gross", "breakdown": "VAT breakdown",
        "category": "VAT category", "basis": "Taxable amount", "total_net": "Total net",
        "total_vat": "Total VAT", "total_gross": "Total", "payable_by": "Payable by {date}",
        "refund_by": "Refunded by {date}", "page": "Page {page}/{pages}",
        "S": "VAT {rate}", "Z": "Zero rated", "AE": "Reverse charge", "G": "Export outside the EU",
    },
    "de": {
        "invoice": "Rechnung", "credit_note": "Gutschrift", "number": "Nummer", "issue_date": "Datum",
        "due_date": "Fällig am", "order": "Bestellung", "purchase_order": "Ihre Bestellnummer",
        "corrects": "Korrigiert Rechnung", "payment": "Zahlung", "card": "Karte", "on_account": "Auf Rechnung",
        "vat_id": "USt-IdNr.", "description": "Beschreibung", "quantity": "Menge", "unit_price": "Einzelpreis",
        "net": "Netto", "vat_rate": "USt %", "vat": "USt", "gross": "Brutto", "breakdown": "Umsatzsteuer",
        "category": "Steuerkategorie", "basis": "Bemessungsgrundlage", "total_net": "Summe netto",
        "total_vat": "Umsatzsteuer", "total_gross": "Gesamtbetrag", "payable_by": "Zahlbar bis {date}",
        "refund_by": "Erstattung bis {date}", "page": "Seite {page}/{pages}",
        "S": "USt {rate}", "Z": "Nullsatz", "AE": "Steuerschuldnerschaft des Leistungsempfängers",
        "G": "Ausfuhr in ein Drittland",
    },
}


@dataclass(frozen=True)
class RenderedDocument:
    #: the Factur-X PDF (PDF/A-3B) with the XML embedded as ``factur-x.xml``
    pdf: bytes
    #: the EN 16931 CII XML, byte for byte as embedded
    xml: bytes


def render(doc: Document) -> RenderedDocument:
    _check_totals(doc)
    xml = cii_xml(doc)
    pdf = facturx.generate_from_binary(
        _sheet(doc),
        xml,
        flavor="factur-x",
        level=LEVEL,
        check_xsd=True,
        pdf_metadata={
            "author": doc.seller.company or doc.seller.name,
            "title": f"{_label(doc, doc.kind)} {doc.number}",
            "subject": f"{_label(doc, doc.kind)} {doc.number}, {_issue_date(doc).isoformat()}",
            "keywords": "Factur-X, ZUGFeRD, EN 16931",
        },
        lang=doc.language,
        # the XML is the invoice and the PDF its rendering: "Alternative" as ZUGFeRD asks from COMFORT up
        afrelationship="alternative",
    )
    return RenderedDocument(pdf=pdf, xml=xml)


def _check_totals(doc: Document) -> None:
    # an e-invoice whose sums disagree breaks EN 16931 (BR-CO-10/13/14/15): refuse to issue it
    nets = sum((line.net for line in doc.lines), Decimal(0))
    bases = sum((group.basis for group in doc.breakdown), Decimal(0))
    taxes = sum((group.tax for group in doc.breakdown), Decimal(0))
    if not nets == bases == doc.net or taxes != doc.tax or doc.net + doc.tax != doc.gross:
        raise ValueError(
            f"{doc.number}: totals disagree (lines {nets}, breakdown {bases}/{taxes}, "
            f"document {doc.net}/{doc.tax}/{doc.gross})"
        )


# --- the EN 16931 CII XML ------------------------------------------------------------------


def cii_xml(doc: Document) -> bytes:
    """The EN 16931 CII XML of ``doc``, validated against the Factur-X EN16931 XSD."""
    cii = CiiDocument()
    cii.context.guideline_parameter.id = GUIDELINE
    cii.header.id = doc.number
    cii.header.type_code = TYPE_CODES[doc.kind]
    cii.header.issue_date_time = _issue_date(doc)
    if doc.tax_note:
        cii.header.notes.add(IncludedNote(content=doc.tax_note, subject_code=TAX_NOTE_SUBJECT))

    for line in doc.lines:
        cii.trade.items.add(_line_item(line))

    agreement = cii.trade.agreement
    _party(agreement.seller, doc.seller)
    _party(agreement.buyer, doc.buyer)
    agreement.seller_order.issuer_assigned_id = doc.order_id
    if doc.purchase_order_number:
        agreement.buyer_order.issuer_assigned_id = doc.purchase_order_number

    _party(cii.trade.delivery.ship_to, doc.buyer, ship_to=True)
    cii.trade.delivery.event.occurrence = _issue_date(doc)

    settlement = cii.trade.settlement
    settlement.currency_code = doc.currency
    if doc.payment_method in PAYMENT_MEANS:
        means = PaymentMeans()
        means.type_code = PAYMENT_MEANS[doc.payment_method]
        settlement.payment_means.add(means)
    for group in doc.breakdown:
        tax = ApplicableTradeTax()
        tax.calculated_amount = _amount(group.tax)
        tax.type_code = "VAT"
        if group.exemption_reason:
            tax.exemption_reason = group.exemption_reason
        tax.basis_amount = _amount(group.basis)
        tax.category_code = group.tax_category
        if group.exemption_code:
            tax.exemption_reason_code = group.exemption_code
        tax.rate_applicable_percent = _percent(group.tax_rate)
        settlement.trade_tax.add(tax)
    terms = PaymentTerms()
    terms.description = _label(doc, "refund_by" if doc.kind == "credit_note" else "payable_by").format(
        date=_date_text(doc, date.fromisoformat(doc.due_date)))
    terms.due = date.fromisoformat(doc.due_date)
    settlement.terms.add(terms)

    summation = settlement.monetary_summation
    summation.line_total = _amount(sum((line.net for line in doc.lines), Decimal(0)))
    summation.tax_basis_total = _amount(doc.net)
    summation.tax_total = (_amount(doc.tax), doc.currency)
    summation.grand_total = _amount(doc.gross)
    summation.due_amount = _amount(doc.gross)
    if doc.corrects:
        settlement.invoice_referenced_document.issuer_assigned_id = doc.corrects

    xml: bytes = cii.serialize(schema=SCHEMA)
    return xml


def _line_item(line: DocumentLine) -> LineItem:
    item = LineItem()
    item.document.line_id = line.line_id
    item.product.seller_assigned_id = line.sku
    item.product.name = line.description
    item.agreement.net.amount = _price(line.unit_price)
    item.delivery.billed_quantity = (line.quantity, UNIT)
    item.settlement.trade_tax.type_code = "VAT"
    item.settlement.trade_tax.category_code = line.tax_category
    item.settlement.trade_tax.rate_applicable_percent = _percent(line.tax_rate)
    item.settlement.monetary_summation.total_amount = _amount(line.net)
    return item


def _party(cii: TradeParty, party: Party, *, ship_to: bool = False) -> None:
    # a ship-to party (BG-13) has a name and an address only; contact, e-mail and VAT id are the buyer's
    cii.name = party.company or party.name
    if party.company and party.company != party.name and not ship_to:
        cii.contact.person_name = party.name
    address = cii.address
    address.postcode = party.postal_code
    address.line_one = party.line1
    if party.line2:
        address.line_two = party.line2
    address.city_name = party.city
    address.country_id = party.country
    if party.email and not ship_to:
        cii.electronic_address.uri_ID = ("EM", party.email)
    if party.vat_id and not ship_to:
        registration = TaxRegistration()
        registration.id = ("VA", party.vat_id)
        cii.tax_registrations.add(registration)


def _amount(value: Decimal) -> Decimal:
    return value.quantize(CENT)


def _price(value: Decimal) -> Decimal:
    # a unit price may carry more precision than the currency's minor unit; never round it away
    return value.quantize(CENT) if value == value.quantize(CENT) else value.normalize()


def _percent(rate: Decimal) -> Decimal:
    return (rate * 100).quantize(CENT)


def _issue_date(doc: Document) -> date:
    return _issued(doc).date()


def _issued(doc: Document) -> datetime:
    issued = datetime.fromisoformat(doc.issued_at)
    return (issued if issued.tzinfo else issued.replace(tzinfo=UTC)).astimezone(UTC)


# --- the printed page ----------------------------------------------------------------------


class _Sheet(FPDF):
    def __init__(self, footer_text: str, page_label: str) -> None:
        # PDF/A-3B: fpdf2 then refuses unembedded fonts and adds the sRGB output intent
        super().__init__(format="A4", enforce_compliance="PDFA_3B")
        self._footer_text = footer_text
        self._page_label = page_label

    def footer(self) -> None:
        self.set_y(-15)
        self.set_font(FONT, size=7)
        self.set_text_color(110)
        self.cell(self.epw * 0.8, 4, self._footer_text)
        self.cell(self.epw * 0.2, 4, self._page_label.format(page=self.page_no(), pages="{nb}"), align="R")


def _sheet(doc: Document) -> bytes:
    seller = doc.seller
    pdf = _Sheet(
        footer_text=" · ".join(
            [seller.company or seller.name, _one_line(seller)]
            + ([f"{_label(doc, 'vat_id')} {seller.vat_id}"] if seller.vat_id else [])),
        page_label=_label(doc, "page"),
    )
    pdf.add_font(FONT, "", FONTS / "DejaVuSans.ttf")
    pdf.add_font(FONT, "B", FONTS / "DejaVuSans-Bold.ttf")
    title = f"{_label(doc, doc.kind)} {doc.number}"
    pdf.set_title(title)
    pdf.set_author(seller.company or seller.name)
    pdf.set_subject(title)
    pdf.set_lang(doc.language)
    pdf.set_creator("OMS invoice renderer")
    # the issue date, not the clock: the same document renders to the same page
    pdf.set_creation_date(_issued(doc))
    pdf.set_margins(18, 15, 18)
    pdf.set_auto_page_break(auto=True, margin=22)
    pdf.add_page()

    # the seller, top left
    pdf.set_font(FONT, "B", 13)
    pdf.cell(0, 6, seller.company or seller.name, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, size=8.5)
    for text in _address_lines(seller, with_name=False):
        pdf.cell(0, 4, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if seller.vat_id:
        pdf.cell(0, 4, f"{_label(doc, 'vat_id')} {seller.vat_id}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    # the buyer in the window position, the document's facts beside it
    top = 45.0
    pdf.set_xy(pdf.l_margin, top)
    pdf.set_font(FONT, size=10)
    buyer_lines = _address_lines(doc.buyer, with_name=True)
    if doc.buyer.vat_id:
        buyer_lines.append(f"{_label(doc, 'vat_id')} {doc.buyer.vat_id}")
    for text in buyer_lines:
        pdf.cell(85, 5, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    buyer_bottom = pdf.get_y()

    facts = [
        ("number", doc.number),
        ("issue_date", _date_text(doc, _issue_date(doc))),
        ("due_date", _date_text(doc, date.fromisoformat(doc.due_date))),
        ("order", doc.order_id),
    ]
    if doc.purchase_order_number:
        facts.append(("purchase_order", doc.purchase_order_number))
    if doc.corrects:
        facts.append(("corrects", doc.corrects))
    if doc.payment_method in PAYMENT_MEANS:
        method = _label(doc, doc.payment_method)
        facts.append(("payment", f"{method} ({doc.payment_reference})" if doc.payment_reference else method))
    pdf.set_font(FONT, size=8.5)
    pdf.set_y(top)
    for key, value in facts:
        pdf.set_x(110)
        pdf.cell(36, 4.5, _label(doc, key))
        pdf.cell(0, 4.5, value, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_y(max(buyer_bottom, pdf.get_y()) + 12)

    pdf.set_font(FONT, "B", 15)
    pdf.cell(0, 8, title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)

    _lines_table(pdf, doc)
    pdf.ln(5)
    _breakdown_table(pdf, doc)
    pdf.ln(3)
    _totals(pdf, doc)

    if doc.tax_note:
        pdf.ln(6)
        pdf.set_font(FONT, size=9)
        pdf.multi_cell(0, 4.5, doc.tax_note, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(pdf.output())


HEADINGS = FontFace(emphasis="BOLD", fill_color=(235, 235, 235))


def _lines_table(pdf: FPDF, doc: Document) -> None:
    pdf.set_font(FONT, size=8.5)
    keys = ("description", "quantity", "unit_price", "net", "vat_rate", "vat", "gross")
    with pdf.table(col_widths=(33, 9, 13, 13, 9, 10, 13), borders_layout=TableBordersLayout.HORIZONTAL_LINES,
                   headings_style=HEADINGS, line_height=5, padding=(1, 1.5)) as table:
        heading = table.row()
        for key in keys:
            heading.cell(_label(doc, key), align="L" if key == "description" else "R")
        for line in doc.lines:
            row = table.row()
            row.cell(line.description, align="L")
            for text in (str(line.quantity), _money(doc, line.unit_price, precise=True), _money(doc, line.net),
                         _rate(doc, line.tax_rate), _money(doc, line.tax), _money(doc, line.gross)):
                row.cell(text, align="R")


def _breakdown_table(pdf: FPDF, doc: Document) -> None:
    pdf.set_font(FONT, size=8.5)
    with pdf.table(col_widths=(50, 30, 20), borders_layout=TableBordersLayout.HORIZONTAL_LINES,
                   headings_style=HEADINGS, line_height=5, padding=(1, 1.5), width=pdf.epw * 0.8,
                   align="RIGHT") as table:
        heading = table.row()
        heading.cell(_label(doc, "breakdown"), align="L")
        heading.cell(_label(doc, "basis"), align="R")
        heading.cell(_label(doc, "vat"), align="R")
        for group in doc.breakdown:
            name = _label(doc, group.tax_category).format(rate=_rate(doc, group.tax_rate))
            if group.exemption_reason and group.exemption_reason != name:
                name = f"{name}\n{group.exemption_reason}"
            row = table.row()
            row.cell(name, align="L")
            row.cell(_money(doc, group.basis), align="R")
            row.cell(_money(doc, group.tax), align="R")


def _totals(pdf: FPDF, doc: Document) -> None:
    for key, value, bold in (("total_net", doc.net, False), ("total_vat", doc.tax, False),
                             ("total_gross", doc.gross, True)):
        pdf.set_font(FONT, "B" if bold else "", 10 if bold else 9)
        pdf.set_x(pdf.l_margin + pdf.epw * 0.45)
        pdf.cell(pdf.epw * 0.35, 6, _label(doc, key), align="R")
        pdf.cell(pdf.epw * 0.20, 6, f"{_money(doc, value)} {doc.currency}", align="R",
                 new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _label(doc: Document, key: str) -> str:
    return LABELS[doc.language][key]


def _address_lines(party: Party, *, with_name: bool) -> list[str]:
    lines = []
    if with_name:
        lines.append(party.company or party.name)
        if party.company and party.company != party.name:
            lines.append(party.name)
    lines.append(party.line1)
    if party.line2:
        lines.append(party.line2)
    lines.append(f"{party.postal_code} {party.city}")
    lines.append(party.country)
    return lines


def _one_line(party: Party) -> str:
    return ", ".join([party.line1, *([party.line2] if party.line2 else []),
                      f"{party.postal_code} {party.city}", party.country])


def _money(doc: Document, value: Decimal, *, precise: bool = False) -> str:
    text = f"{(_price(value) if precise else _amount(value)):,}"
    return text.translate(str.maketrans(",.", ".,")) if doc.language == "de" else text


def _rate(doc: Document, rate: Decimal) -> str:
    percent = (rate * 100).normalize()
    text = f"{percent:f}"
    return f"{text.replace('.', ',')} %" if doc.language == "de" else f"{text}%"


def _date_text(doc: Document, day: date) -> str:
    return day.strftime("%d.%m.%Y") if doc.language == "de" else day.isoformat()
