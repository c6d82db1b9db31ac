"""Issue 14: finance's documents and tax across borders, through the API only — the invoice list and
one invoice with its links (the PDF that pdftoppm renders, the EN 16931 XML embedded in it), and
what a French business, a Swiss consumer and a GB consumer are charged."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from lxml import etree

from tests.e2e.conftest import KEYS
from tests.e2e.orders import key
from tests.e2e.test_allocation import order_for
from tests.e2e.test_capture_api import WEBSHOP, post_order
from tests.e2e.test_fulfilment import DC, dispatch, requests_of
from tests.e2e.test_inventory_api import put_stock, sku
from tests.e2e.test_invoicing import finished
from tests.samples import ADDRESS, CUSTOMER

FINANCE = {"x-api-key": KEYS["finance"]}
MARKETPLACE = {"x-api-key": KEYS["marketplace"]}
NS = {"rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
      "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"}


def completed(http: httpx.Client, lines: list[dict[str, Any]], **changes: Any) -> dict[str, Any]:
    """An order placed, shipped from Berlin and COMPLETED (its invoice issued and captured)."""
    body = order_for(lines)
    body.update(changes)
    r = post_order(http, body, key())
    assert r.status_code == 201, r.text
    order_id = r.json()["order_id"]
    deadline = time.monotonic() + 10
    while not (shipments := requests_of(http, DC, order_id)):
        assert time.monotonic() < deadline, "no fulfilment request within 10 s"
        time.sleep(0.1)
    for s in shipments:
        assert dispatch(http, DC, s["shipment_id"], f"TRK-{s['shipment_id']}").status_code == 200
    done = finished(http, order_id)
    assert done["status"] == "COMPLETED", done["timeline"]
    return done


def stocked(http: httpx.Client, units: int = 20) -> str:
    item = sku()
    assert put_stock(http, item, "DC-BERLIN", units, KEYS["dc"]).status_code == 200
    return item


def rendered(http: httpx.Client, number: str, headers: dict[str, str] = FINANCE, timeout: float = 10.0
             ) -> dict[str, Any]:
    """The document once its links are there (API.md: rendered within 10 s locally)."""
    deadline = time.monotonic() + timeout
    while True:
        r = http.get(f"/invoices/{number}", headers=headers)
        assert r.status_code == 200, r.text
        doc: dict[str, Any] = r.json()
        if doc["pdf_url"] and doc["einvoice_url"]:
            return doc
        assert time.monotonic() < deadline, f"{number} not rendered within {timeout} s"
        time.sleep(0.2)


def listed(http: httpx.Client, first: str, last: str, **params: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    token = None
    while True:
        paging = {"next_token": token} if token else {}
        r = http.get("/invoices", headers=FINANCE, params={"from": first, "to": last, "limit": 50, **params, **paging})
        assert r.status_code == 200, r.text
        found.extend(r.json()["invoices"])
        if not (token := r.json()["next_token"]):
            return found


def test_four_completed_orders_are_listed_with_gapless_numbers_that_add_up(http: httpx.Client) -> None:
    item = stocked(http)
    orders = [completed(http, [{"sku": item, "quantity": n, "unit_price": "12.50"}]) for n in (1, 2, 3, 4)]
    numbers = {o["invoices"][0]["invoice_number"]: o for o in orders}
    day = orders[0]["invoices"][0]["issued_at"][:10]
    # When finance lists the day's invoices
    today = {d["invoice_number"]: d for d in listed(http, day, day, kind="invoice")}
    # Then all four are there, each net + tax = gross and gross = its order's total
    assert set(numbers) <= set(today)
    for number, order in numbers.items():
        doc = today[number]
        assert doc["kind"] == "invoice" and doc["order_id"] == order["order_id"]
        assert Decimal(doc["net"]) + Decimal(doc["tax"]) == Decimal(doc["gross"])
        assert doc["gross"] == order["totals"]["total"] and doc["payment_reference"]
    # and the year's invoice numbers are gapless: 1 … n, each once
    year = next(iter(numbers))[4:8]
    sequence = sorted(int(d["invoice_number"][-6:]) for d in listed(http, f"{year}-01-01", f"{year}-12-31",
                                                                     kind="invoice"))
    assert sequence == list(range(1, len(sequence) + 1))
    # a channel may not list; it reads its own order's invoice, and another channel's is not there
    assert http.get("/invoices", headers=WEBSHOP, params={"from": day, "to": day}).status_code == 403
    number = next(iter(numbers))
    assert http.get(f"/invoices/{number}", headers=WEBSHOP).status_code == 200
    assert http.get(f"/invoices/{number}", headers=MARKETPLACE).status_code == 404
    assert http.get("/invoices/INV-1999-000001", headers=FINANCE).status_code == 404
    # a page's token is for its listing: the same token for another period is a 400, not a 5xx
    first_page = http.get("/invoices", headers=FINANCE, params={"from": f"{year}-01-01", "to": day, "limit": 1})
    token = first_page.json()["next_token"]
    assert token
    r = http.get("/invoices", headers=FINANCE, params={"from": day, "to": day, "limit": 1, "next_token": token})
    assert r.status_code == 400, r.text


def test_a_bad_period_is_a_422_naming_the_field(http: httpx.Client) -> None:
    r = http.get("/invoices", headers=FINANCE, params={"from": "2026-12-31", "to": "2026-12-01"})
    assert r.status_code == 422 and "to" in r.text
    r = http.get("/invoices", headers=FINANCE, params={"from": "2026-13-01", "to": "2026-12-01"})
    assert r.status_code == 422 and "from" in r.text


def test_the_links_give_a_pdf_with_the_en16931_xml_embedded(http: httpx.Client, tmp_path: Path) -> None:
    item = stocked(http)
    order = completed(http, [{"sku": item, "quantity": 2, "unit_price": "12.50"}], purchase_order_number="PO-4711")
    number = order["invoices"][0]["invoice_number"]
    doc = rendered(http, number)
    # the lines: the mugs and the shipping, each at 19 %, adding up to the document
    assert [(ln["line_id"], ln["tax_category"], ln["tax_rate"]) for ln in doc["lines"]] == [
        ("1", "S", "0.19"), ("shipping", "S", "0.19")]
    assert sum(Decimal(ln["gross"]) for ln in doc["lines"]) == Decimal(doc["gross"]) == Decimal("35.58")
    assert doc["purchase_order_number"] == "PO-4711" and doc["tax_note"] is None
    assert doc["seller"]["vat_id"] == "DE100000008" and doc["due_date"] == doc["issued_at"][:10]
    pdf = httpx.get(doc["pdf_url"], timeout=10)
    xml = httpx.get(doc["einvoice_url"], timeout=10)
    assert pdf.status_code == xml.status_code == 200
    assert pdf.content.startswith(b"%PDF-")
    # the e-invoice names the invoice, its purchase order and the API's figures
    tree = etree.fromstring(xml.content)
    assert tree.findtext(".//rsm:ExchangedDocument/ram:ID", namespaces=NS) == number
    assert tree.findtext(".//ram:BuyerOrderReferencedDocument/ram:IssuerAssignedID", namespaces=NS) == "PO-4711"
    # each line's net as the API shows it, in the same order
    nets = [item.findtext(".//ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount", namespaces=NS)
            for item in tree.findall(".//ram:IncludedSupplyChainTradeLineItem", namespaces=NS)]
    assert nets == [ln["net"] for ln in doc["lines"]]
    (group,) = tree.findall(".//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax", namespaces=NS)
    assert (group.findtext("ram:CategoryCode", namespaces=NS), group.findtext("ram:BasisAmount", namespaces=NS),
            group.findtext("ram:CalculatedAmount", namespaces=NS)) == ("S", "29.90", "5.68")
    totals = tree.find(".//ram:SpecifiedTradeSettlementHeaderMonetarySummation", namespaces=NS)
    assert totals is not None
    assert totals.findtext("ram:TaxBasisTotalAmount", namespaces=NS) == doc["net"]
    assert totals.findtext("ram:TaxTotalAmount", namespaces=NS) == doc["tax"]
    assert totals.findtext("ram:GrandTotalAmount", namespaces=NS) == doc["gross"]
    # the same XML is embedded in the PDF, as factur-x.xml
    from facturx import get_xml_from_pdf
    filename, embedded = get_xml_from_pdf(pdf.content, check_xsd=True)
    assert filename == "factur-x.xml" and embedded == xml.content
    # which declares itself PDF/A-3 (its XMP metadata)
    from pypdf import PdfReader
    xmp = PdfReader(io.BytesIO(pdf.content)).xmp_metadata
    assert xmp is not None
    assert re.search(r'pdfaid:part(>|=")3', xmp.stream.get_data().decode()), "not declared PDF/A-3"
    # and pdftoppm renders it
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed; .ci/run installs it")
    (tmp_path / "invoice.pdf").write_bytes(pdf.content)
    subprocess.run(["pdftoppm", "-png", "-r", "40", "-singlefile", str(tmp_path / "invoice.pdf"),
                    str(tmp_path / "page")], capture_output=True, timeout=30, check=True)
    png = (tmp_path / "page.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 1000


def _shipped_to(http: httpx.Client, country: str, customer: dict[str, Any], address: dict[str, Any] | None = None
                ) -> dict[str, Any]:
    item = stocked(http)
    return completed(http, [{"sku": item, "quantity": 2, "unit_price": "12.50"}],
                     customer={**CUSTOMER, **customer},
                     shipping_address={**ADDRESS, **(address or {}), "country": country}, shipping_price="10.00")


def test_a_french_business_with_a_valid_vat_id_is_reverse_charged(http: httpx.Client) -> None:
    order = _shipped_to(http, "FR", {"vat_id": "FR40303265045", "locale": "fr-FR"},
                        {"company": "Exemple SARL", "line1": "1 rue de Rivoli", "city": "Paris",
                         "postal_code": "75001"})
    assert order["tax"]["scheme"] == "reverse_charge" and order["tax"]["vat_id_status"] == "valid"
    assert order["totals"]["tax"] == "0.00" and order["totals"]["total"] == "35.00"
    doc = rendered(http, order["invoices"][0]["invoice_number"])
    assert doc["tax"] == "0.00" and "Reverse charge" in doc["tax_note"]
    assert {ln["tax_category"] for ln in doc["lines"]} == {"AE"}
    assert doc["buyer"]["vat_id"] == "FR40303265045" and doc["buyer"]["name"] == "Exemple SARL"
    (group,) = doc["tax_breakdown"]
    assert (group["tax_category"], group["basis"], group["tax"], group["exemption_code"]) == (
        "AE", "35.00", "0.00", "VATEX-EU-AE")
    xml = etree.fromstring(httpx.get(doc["einvoice_url"], timeout=10).content)
    (tax,) = xml.findall(".//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax", namespaces=NS)
    assert tax.findtext("ram:CategoryCode", namespaces=NS) == "AE"
    assert "Reverse charge" in (tax.findtext("ram:ExemptionReason", namespaces=NS) or "")


def test_a_number_vies_does_not_know_pays_french_vat(http: httpx.Client) -> None:
    # a well-formed French number ending in 99 (FR, its check digits, a SIREN): the local VIES
    # answers "not registered" (API.md, "Local environment only")
    from stdnum.eu import vat
    vat_id = next(v for i in range(10_000) if vat.is_valid(
        v := f"FR{(12 + 3 * (int(f'{i:07d}99') % 97)) % 97:02d}{i:07d}99"))
    item = stocked(http)
    r = post_order(http, {**order_for([{"sku": item, "quantity": 1, "unit_price": "10.00"}]),
                          "customer": {**CUSTOMER, "vat_id": vat_id},
                          "shipping_address": {**ADDRESS, "country": "FR"}, "shipping_price": "0.00"}, key())
    assert r.status_code == 201, r.text
    assert r.json()["tax"]["vat_id_status"] == "not_registered" and r.json()["totals"]["tax"] == "2.00"


def test_a_malformed_vat_id_is_a_422_naming_it(http: httpx.Client) -> None:
    r = post_order(http, {**order_for([{"sku": sku(), "quantity": 1, "unit_price": "10.00"}]),
                          "customer": {**CUSTOMER, "vat_id": "FR00303265045"},
                          "shipping_address": {**ADDRESS, "country": "FR"}}, key())
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["customer.vat_id"]


def test_a_swiss_consumer_pays_no_vat_with_the_export_note(http: httpx.Client) -> None:
    order = _shipped_to(http, "CH", {"locale": "de-CH"}, {"city": "Zürich", "postal_code": "8001"})
    assert order["tax"]["scheme"] == "export" and order["totals"]["tax"] == "0.00"
    doc = rendered(http, order["invoices"][0]["invoice_number"])
    assert doc["tax"] == "0.00" and doc["language"] == "de" and "Ausfuhrlieferung" in doc["tax_note"]
    assert {ln["tax_category"] for ln in doc["lines"]} == {"G"}
    assert doc["tax_breakdown"][0]["exemption_code"] == "VATEX-EU-G"
    xml = etree.fromstring(httpx.get(doc["einvoice_url"], timeout=10).content)
    (tax,) = xml.findall(".//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax", namespaces=NS)
    assert tax.findtext("ram:CategoryCode", namespaces=NS) == "G"
    assert "Ausfuhrlieferung" in (tax.findtext("ram:ExemptionReason", namespaces=NS) or "")


def test_a_gb_consumer_pays_gb_vat_where_the_entity_is_registered(http: httpx.Client) -> None:
    order = _shipped_to(http, "GB", {"locale": "en-GB"}, {"city": "London", "postal_code": "SW1A 1AA"})
    assert order["tax"]["scheme"] == "foreign_registration"
    assert order["totals"]["tax"] == "7.00"  # (25.00 + 10.00) x 20 %
    doc = rendered(http, order["invoices"][0]["invoice_number"])
    assert doc["tax_note"] is None and {ln["tax_rate"] for ln in doc["lines"]} == {"0.2"}
    assert doc["seller"]["vat_id"] == "GB100000034"  # invoiced under its GB registration


def test_a_credit_note_is_rendered_too_and_corrects_its_invoice(http: httpx.Client) -> None:
    from tests.e2e.test_returns import ask_return, dispatched, receive, refunded

    order = dispatched(http, [{"sku": sku(), "quantity": 2, "unit_price": "10.00"}])
    (invoice,) = order["invoices"]
    ret = ask_return(http, order["order_id"], [{"line_id": "1", "quantity": 1, "reason": "DAMAGED"}]).json()
    assert receive(http, ret, [{"line_id": "1", "quantity": 1, "condition": "RESELLABLE"}], "RCV-1").status_code == 200
    refunded(http, ret["return_id"])
    (note,) = [d for d in http.get(f"/orders/{order['order_id']}", headers=WEBSHOP).json()["invoices"]
               if d["kind"] == "credit_note"]
    doc = rendered(http, note["invoice_number"])
    assert doc["kind"] == "credit_note" and doc["corrects"] == invoice["invoice_number"]
    assert (doc["net"], doc["tax"], doc["gross"]) == ("10.00", "1.90", "11.90")
    xml = etree.fromstring(httpx.get(doc["einvoice_url"], timeout=10).content)
    assert xml.findtext(".//rsm:ExchangedDocument/ram:TypeCode", namespaces=NS) == "381"
    assert xml.findtext(".//ram:InvoiceReferencedDocument/ram:IssuerAssignedID", namespaces=NS) == \
        invoice["invoice_number"]
    # finance finds it by kind
    day = note["issued_at"][:10]
    assert note["invoice_number"] in {d["invoice_number"] for d in listed(http, day, day, kind="credit_note")}
    assert note["invoice_number"] not in {d["invoice_number"] for d in listed(http, day, day, kind="invoice")}
