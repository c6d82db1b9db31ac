"""The Factur-X renderer: a finance document becomes a PDF/A-3 page a customer can read that
carries the EN 16931 XML an accounting system can book, in the customer's language."""

from __future__ import annotations

import io
import shutil
import subprocess
from decimal import Decimal
from typing import Any, Literal

import facturx
import pytest
from lxml import etree
from pypdf import PdfReader

from functions.invoice.adapters.facturx_pdf import RenderedDocument, render
from functions.invoice.document import Document, DocumentLine, Party, TaxBreakdown

NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
}
D = Decimal
Category = Literal["S", "Z", "AE", "G"]

SELLER = Party(name="Nordlicht Handel GmbH", company="Nordlicht Handel GmbH", line1="Hafenstraße 12",
               city="Hamburg", postal_code="20457", country="DE", vat_id="DE123456789",
               email="billing@nordlicht.example")


def _line(line_id: str, sku: str, description: str, quantity: int, unit_price: str, category: Category = "S",
          rate: str = "0.19") -> DocumentLine:
    net = D(unit_price) * quantity
    tax = (net * D(rate)).quantize(D("0.01"))
    return DocumentLine(line_id=line_id, sku=sku, description=description, quantity=quantity,
                        unit_price=D(unit_price), net=net, tax_category=category,
                        tax_rate=D(rate), tax=tax, gross=net + tax)


def _document(lines: tuple[DocumentLine, ...], **fields: Any) -> Document:
    groups: dict[tuple[Category, Decimal], list[DocumentLine]] = {}
    for line in lines:
        groups.setdefault((line.tax_category, line.tax_rate), []).append(line)
    reasons = fields.pop("reasons", {})
    breakdown = tuple(
        TaxBreakdown(tax_category=category, tax_rate=rate,
                     basis=sum((x.net for x in group), D(0)), tax=sum((x.tax for x in group), D(0)),
                     exemption_reason=reasons.get(category, (None, None))[0],
                     exemption_code=reasons.get(category, (None, None))[1])
        for (category, rate), group in groups.items())
    net = sum((x.net for x in lines), D(0))
    tax = sum((x.tax for x in lines), D(0))
    base: dict[str, Any] = {
        "kind": "invoice", "number": "INV-2026-000042", "issued_at": "2026-03-02T09:30:00Z",
        "due_date": "2026-03-02", "currency": "EUR", "language": "de", "seller": SELLER,
        "lines": lines, "breakdown": breakdown, "net": net, "tax": tax, "gross": net + tax,
        "order_id": "ord-7f3a", "payment_method": "card", "payment_reference": "pi_3Nabc",
    }
    return Document(**{**base, **fields})


def german_consumer_invoice() -> Document:
    buyer = Party(name="Erika Mustermann", line1="Lindenallee 5", line2="Hinterhaus", city="Köln",
                  postal_code="50667", country="DE", email="erika@example.com")
    return _document(
        (_line("l-1", "MUG-BLUE", "Becher blau", 2, "12.50"),
         _line("l-2", "TEE-L", "T-Shirt Größe L", 1, "19.99"),
         _line("l-3", "BOOK-7", "Kochbuch", 1, "24.00", rate="0.07"),
         _line("shipping", "shipping", "Versand", 1, "4.90")),
        buyer=buyer)


def french_reverse_charge_invoice() -> Document:
    buyer = Party(name="Jean Dupont", company="Boulangerie Dupont SARL", line1="12 rue de la Paix",
                  city="Paris", postal_code="75002", country="FR", vat_id="FR40303265045")
    note = ("Reverse charge: the recipient is liable for VAT (Article 196 of Council Directive "
            "2006/112/EC).")
    return _document(
        (_line("l-1", "OVEN-PRO", "Deck oven", 1, "2400.00", "AE", "0"),
         _line("shipping", "shipping", "Shipping", 1, "120.00", "AE", "0")),
        buyer=buyer, language="en", number="INV-2026-000043", tax_note=note,
        purchase_order_number="PO-88123", due_date="2026-04-01", payment_method="on_account",
        payment_reference=None, reasons={"AE": ("Reverse charge", "VATEX-EU-AE")})


def swiss_export_invoice() -> Document:
    buyer = Party(name="Heidi Keller", company="Keller AG", line1="Bahnhofstrasse 1", city="Zürich",
                  postal_code="8001", country="CH", vat_id="CHE-123.456.789 MWST")
    return _document(
        (_line("l-1", "MUG-BLUE", "Mug blue", 10, "12.50", "G", "0"),),
        buyer=buyer, language="en", number="INV-2026-000044",
        tax_note="Export outside the EU: VAT exempt (Section 4 No. 1a UStG).",
        reasons={"G": ("Export outside the EU", "VATEX-EU-G")})


def german_credit_note() -> Document:
    buyer = Party(name="Erika Mustermann", line1="Lindenallee 5", city="Köln", postal_code="50667",
                  country="DE")
    return _document(
        (_line("l-1", "MUG-BLUE", "Becher blau", 1, "12.50"),),
        buyer=buyer, kind="credit_note", number="CN-2026-000007", corrects="INV-2026-000042",
        issued_at="2026-03-09T14:00:00+00:00", due_date="2026-03-09")


SAMPLES = {
    "german consumer": german_consumer_invoice,
    "french reverse charge": french_reverse_charge_invoice,
    "swiss export": swiss_export_invoice,
    "german credit note": german_credit_note,
}


@pytest.fixture(scope="module")
def rendered() -> dict[str, tuple[Document, RenderedDocument]]:
    return {name: (build(), render(build())) for name, build in SAMPLES.items()}


def _tree(result: RenderedDocument) -> Any:
    return etree.fromstring(result.xml)


def _texts(tree: Any, path: str) -> list[str]:
    return [str(x) for x in tree.xpath(path, namespaces=NS)]


@pytest.mark.parametrize("name", SAMPLES)
def test_the_pdf_carries_the_xml_it_returns_and_the_xml_is_en16931_valid(
        name: str, rendered: dict[str, tuple[Document, RenderedDocument]]) -> None:
    """Given a rendered document, when an accounting system extracts its XML from the PDF,
    then it gets exactly the returned XML, and that XML passes the Factur-X EN 16931 XSD."""
    _, result = rendered[name]
    filename, embedded = facturx.get_xml_from_pdf(result.pdf, check_xsd=True)
    assert filename == "factur-x.xml"
    assert embedded == result.xml
    assert facturx.xml_check_xsd(result.xml, flavor="factur-x", level="en16931")
    assert facturx.get_level(etree.fromstring(result.xml)) == "en16931"


@pytest.mark.parametrize("name", SAMPLES)
def test_the_xml_states_the_number_type_lines_and_totals_of_the_document(
        name: str, rendered: dict[str, tuple[Document, RenderedDocument]]) -> None:
    """Given a rendered document, when its XML is read, then it names the document, each line
    with its net, and totals that equal the document's net, tax and gross."""
    doc, result = rendered[name]
    tree = _tree(result)
    assert _texts(tree, "//rsm:ExchangedDocument/ram:ID/text()") == [doc.number]
    assert _texts(tree, "//rsm:ExchangedDocument/ram:TypeCode/text()") == [
        "380" if doc.kind == "invoice" else "381"]
    assert _texts(tree, "//rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString/text()") == [
        doc.issued_at[:10].replace("-", "")]
    items = tree.xpath("//ram:IncludedSupplyChainTradeLineItem", namespaces=NS)
    assert len(items) == len(doc.lines)
    for item, line in zip(items, doc.lines, strict=True):
        assert _texts(item, ".//ram:LineID/text()") == [line.line_id]
        assert _texts(item, ".//ram:SellerAssignedID/text()") == [line.sku]
        assert _texts(item, ".//ram:SpecifiedTradeProduct/ram:Name/text()") == [line.description]
        assert D(_texts(item, ".//ram:LineTotalAmount/text()")[0]) == line.net
        assert _texts(item, ".//ram:BilledQuantity/@unitCode") == ["C62"]
        assert D(_texts(item, ".//ram:ApplicableTradeTax/ram:RateApplicablePercent/text()")[0]) == line.tax_rate * 100
    summation = "//ram:SpecifiedTradeSettlementHeaderMonetarySummation/"
    assert D(_texts(tree, summation + "ram:LineTotalAmount/text()")[0]) == sum(x.net for x in doc.lines)
    assert D(_texts(tree, summation + "ram:TaxBasisTotalAmount/text()")[0]) == doc.net
    assert D(_texts(tree, summation + "ram:TaxTotalAmount/text()")[0]) == doc.tax
    assert _texts(tree, summation + "ram:TaxTotalAmount/@currencyID") == [doc.currency]
    assert D(_texts(tree, summation + "ram:GrandTotalAmount/text()")[0]) == doc.gross
    assert D(_texts(tree, summation + "ram:DuePayableAmount/text()")[0]) == doc.gross
    assert _texts(tree, "//ram:SpecifiedTradePaymentTerms/ram:DueDateDateTime/udt:DateTimeString/text()") == [
        doc.due_date.replace("-", "")]
    assert _texts(tree, "//ram:SellerTradeParty/ram:SpecifiedTaxRegistration/ram:ID/@schemeID") == ["VA"]


def _breakdown(result: RenderedDocument) -> list[tuple[str, Decimal, Decimal, Decimal, str | None, str | None]]:
    groups = []
    for tax in _tree(result).xpath("//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax", namespaces=NS):
        def text(tag: str, tax: Any = tax) -> str | None:
            found = tax.find(f"ram:{tag}", namespaces=NS)
            return None if found is None else str(found.text)
        groups.append((str(text("CategoryCode")), D(str(text("RateApplicablePercent"))),
                       D(str(text("BasisAmount"))), D(str(text("CalculatedAmount"))),
                       text("ExemptionReason"), text("ExemptionReasonCode")))
    return groups


def test_a_german_consumer_invoice_breaks_its_vat_down_into_the_standard_and_the_reduced_rate(
        rendered: dict[str, tuple[Document, RenderedDocument]]) -> None:
    """Given two 19 % lines, a 19 % shipping line and a 7 % line, when rendered, then the XML has
    two S groups whose bases and taxes are the sums of their lines, amounts with 2 decimals."""
    _, result = rendered["german consumer"]
    assert _breakdown(result) == [
        ("S", D("19.00"), D("49.89"), D("9.48"), None, None),
        ("S", D("7.00"), D("24.00"), D("1.68"), None, None),
    ]
    assert b"<ram:BasisAmount>49.89</ram:BasisAmount>" in result.xml
    assert b"<ram:RateApplicablePercent>19.00</ram:RateApplicablePercent>" in result.xml
    assert not _texts(_tree(result), "//ram:BuyerTradeParty/ram:SpecifiedTaxRegistration")


def test_a_reverse_charge_invoice_names_the_buyers_vat_id_the_exemption_and_the_purchase_order(
        rendered: dict[str, tuple[Document, RenderedDocument]]) -> None:
    """Given a French business buyer under reverse charge, when rendered, then the XML has one
    AE group at 0 % with its exemption reason and VATEX code, the buyer's VAT id, the buyer's
    purchase order number and the tax note."""
    doc, result = rendered["french reverse charge"]
    tree = _tree(result)
    assert _breakdown(result) == [("AE", D("0.00"), D("2520.00"), D("0.00"), "Reverse charge", "VATEX-EU-AE")]
    assert _texts(tree, "//ram:BuyerTradeParty/ram:SpecifiedTaxRegistration/ram:ID/text()") == ["FR40303265045"]
    assert _texts(tree, "//ram:BuyerTradeParty/ram:Name/text()") == ["Boulangerie Dupont SARL"]
    assert _texts(tree, "//ram:BuyerOrderReferencedDocument/ram:IssuerAssignedID/text()") == ["PO-88123"]
    assert _texts(tree, "//rsm:ExchangedDocument/ram:IncludedNote/ram:Content/text()") == [doc.tax_note]
    assert _texts(tree, "//ram:ShipToTradeParty/ram:Name/text()") == ["Boulangerie Dupont SARL"]


def test_a_swiss_export_invoice_is_exempt_as_an_export(
        rendered: dict[str, tuple[Document, RenderedDocument]]) -> None:
    """Given a Swiss buyer, when rendered, then the XML has one G group at 0 % with its exemption."""
    _, result = rendered["swiss export"]
    assert _breakdown(result) == [("G", D("0.00"), D("125.00"), D("0.00"), "Export outside the EU", "VATEX-EU-G")]


def test_a_credit_note_refers_to_the_invoice_it_corrects(
        rendered: dict[str, tuple[Document, RenderedDocument]]) -> None:
    """Given a credit note for an invoice, when rendered, then the XML is a 381 whose settlement
    references that invoice, with positive amounts."""
    _, result = rendered["german credit note"]
    tree = _tree(result)
    assert _texts(tree, "//ram:InvoiceReferencedDocument/ram:IssuerAssignedID/text()") == ["INV-2026-000042"]
    assert D(_texts(tree, "//ram:GrandTotalAmount/text()")[0]) == D("14.88")


def test_documents_whose_totals_disagree_are_not_issued() -> None:
    """Given a document whose gross is not net plus tax, when rendered, then it is refused."""
    doc = german_consumer_invoice()
    wrong = Document(**{**doc.__dict__, "gross": doc.gross + D("0.01")})
    with pytest.raises(ValueError, match="totals disagree"):
        render(wrong)


@pytest.mark.parametrize("name", SAMPLES)
def test_the_pdf_is_a_pdfa3_with_the_attachment_and_only_embedded_fonts(
        name: str, rendered: dict[str, tuple[Document, RenderedDocument]]) -> None:
    """Given a rendered document, when a PDF reader opens it, then it declares PDF/A-3B, carries
    factur-x.xml as its alternative representation, and every font it uses is embedded."""
    _, result = rendered[name]
    reader = PdfReader(io.BytesIO(result.pdf))
    root: Any = reader.trailer["/Root"]
    xmp_text = root["/Metadata"].get_object().get_data().decode()
    assert "<pdfaid:part>3</pdfaid:part>" in xmp_text
    assert "<pdfaid:conformance>B</pdfaid:conformance>" in xmp_text
    assert "factur-x.xml" in reader.attachments
    assert [spec.get_object()["/AFRelationship"] for spec in root["/AF"]] in (["/Data"], ["/Alternative"])
    assert root["/OutputIntents"][0].get_object()["/S"] == "/GTS_PDFA1"
    fonts = 0
    for page in reader.pages:
        resources: Any = page["/Resources"]
        for font in resources["/Font"].values():
            font = font.get_object()
            descriptors = [font.get("/FontDescriptor")] + [
                d.get_object().get("/FontDescriptor") for d in font.get("/DescendantFonts", [])]
            assert any(d is not None and {"/FontFile", "/FontFile2", "/FontFile3"} & set(d.get_object())
                       for d in descriptors), font
            fonts += 1
    assert fonts >= 2  # regular and bold
    assert len(result.pdf) < 100_000


@pytest.mark.parametrize(("name", "words"), [
    ("german consumer", ["Rechnung INV-2026-000042", "Erika Mustermann", "USt 7 %", "Summe netto", "85,05 EUR"]),
    ("french reverse charge", ["Invoice INV-2026-000043", "Boulangerie Dupont SARL", "FR40303265045", "PO-88123",
                               "Reverse charge: the recipient is liable for VAT", "2,520.00 EUR"]),
    ("swiss export", ["Invoice INV-2026-000044", "Keller AG", "Export outside the EU: VAT exempt"]),
    ("german credit note", ["Gutschrift CN-2026-000007", "Erika Mustermann", "Korrigiert Rechnung",
                            "INV-2026-000042", "09.03.2026"]),
])
def test_the_page_reads_in_the_customers_language(
        name: str, words: list[str], rendered: dict[str, tuple[Document, RenderedDocument]]) -> None:
    """Given a rendered document, when its page is read, then it shows the title and number, the
    buyer, the tax note and the amounts in the customer's language."""
    _, result = rendered[name]
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(result.pdf)).pages)
    text = " ".join(text.split())
    for word in words:
        assert word in text, f"{word!r} not on the page: {text}"


def test_a_long_order_continues_on_further_pages_with_its_headings_and_page_numbers() -> None:
    """Given an order of 70 lines, when rendered, then the table runs over several pages, each
    page repeats the column headings and says which page of how many it is, and the totals close it."""
    doc = _document(tuple(_line(f"l-{i}", f"SKU-{i}", f"Artikel {i}", 1, "1.00") for i in range(70)),
                    buyer=german_credit_note().buyer)
    pages = PdfReader(io.BytesIO(render(doc).pdf)).pages
    texts = [" ".join(page.extract_text().split()) for page in pages]
    assert len(pages) >= 2
    assert all("Beschreibung" in text for text in texts)
    assert all(f"Seite {n}/{len(pages)}" in text for n, text in enumerate(texts, start=1))
    assert "Artikel 69" in " ".join(texts) and "Gesamtbetrag 83,30 EUR" in texts[-1]


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="pdftoppm (poppler-utils) is not installed")
def test_a_pdf_viewer_renders_the_first_page(rendered: dict[str, tuple[Document, RenderedDocument]],
                                             tmp_path: Any) -> None:
    """Given a rendered invoice, when poppler rasterizes page 1, then it succeeds with a PNG."""
    _, result = rendered["german consumer"]
    source = tmp_path / "invoice.pdf"
    source.write_bytes(result.pdf)
    completed = subprocess.run(["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", "-singlefile",
                                str(source), str(tmp_path / "page")], capture_output=True, timeout=60, check=False)
    assert completed.returncode == 0, completed.stderr
    assert (tmp_path / "page.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"Syntax Error" not in completed.stderr
