"""A finance document as it is printed and sent: an invoice or a credit note with its parties,
lines, tax breakdown and totals, in the customer's language. Built from the invoice (or credit
note), its order and the legal entity by :func:`document_of`; rendered
to a PDF with the EN 16931 CII XML embedded (Factur-X) by ``adapters/facturx_pdf.py``.
No AWS and no rendering library here."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from functions.core.invoices import CreditNote, Invoice
from functions.core.money import fmt
from functions.core.orders import Order
from functions.core.taxes import (
    EXEMPTION_CODES,
    LegalEntity,
    TaxScheme,
    TaxTreatment,
    country_rate,
    language_of,
    tax_category,
    tax_note,
)
from functions.invoice.billing import due_date


@dataclass(frozen=True)
class Party:
    name: str
    line1: str
    city: str
    postal_code: str
    #: ISO 3166-1 alpha-2
    country: str
    line2: str | None = None
    company: str | None = None
    #: with its country prefix (``DE123456789``); None for a consumer
    vat_id: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class DocumentLine:
    #: the order's line id, or ``shipping`` for the shipping charge
    line_id: str
    sku: str
    #: what the line is (the SKU, or "Shipping"/"Versand")
    description: str
    quantity: int
    unit_price: Decimal
    net: Decimal
    #: EN 16931 VAT category code (UNTDID 5305): S standard/reduced, Z zero rated, AE reverse
    #: charge, G export outside the EU
    tax_category: Literal["S", "Z", "AE", "G"]
    #: a fraction: 0.19 for 19 %
    tax_rate: Decimal
    tax: Decimal
    gross: Decimal


@dataclass(frozen=True)
class TaxBreakdown:
    """One VAT breakdown group (EN 16931 BG-23): the lines of one category and rate."""

    tax_category: Literal["S", "Z", "AE", "G"]
    tax_rate: Decimal
    #: the sum of the group's line nets
    basis: Decimal
    #: the sum of the group's line taxes (each line rounded once, as charged)
    tax: Decimal
    #: the exemption reason text (BT-120), required for AE and G
    exemption_reason: str | None = None
    #: the exemption reason code (BT-121, VATEX): VATEX-EU-AE, VATEX-EU-G
    exemption_code: str | None = None


@dataclass(frozen=True)
class Document:
    kind: Literal["invoice", "credit_note"]
    #: ``INV-2026-000001`` / ``CN-2026-000001``
    number: str
    #: ISO 8601 UTC timestamp of issue
    issued_at: str
    #: ISO date the amount is due (on account: issue date + terms; card: the issue date)
    due_date: str
    currency: str
    language: Literal["en", "de"]
    seller: Party
    buyer: Party
    lines: tuple[DocumentLine, ...]
    breakdown: tuple[TaxBreakdown, ...]
    net: Decimal
    tax: Decimal
    gross: Decimal
    order_id: str
    #: the tax note printed on the document (reverse charge, export), in ``language``
    tax_note: str | None = None
    purchase_order_number: str | None = None
    #: a credit note: the invoice number it corrects
    corrects: str | None = None
    #: the card capture or refund reference, when there is one
    payment_reference: str | None = None
    #: "card" | "on_account" | "none"
    payment_method: str = "card"


_SHIPPING = {"en": "Shipping", "de": "Versand"}


def source_of(order: Order, number: str) -> Invoice | CreditNote | None:
    """The order's invoice or credit note ``number`` (None: the order has no such document)."""
    return next((i for i in order.invoices if i.invoice_number == number), None) \
        or next((n for n in order.credit_notes if n.credit_note_number == number), None)


def document_of(order: Order, number: str, entity: LegalEntity) -> Document:
    """The printed document of invoice or credit note ``number`` of ``order`` (KeyError if the
    order has no such document): every line with its rate and EN 16931 category, shipping as a
    line of its own, the tax breakdown per category and rate, the parties and the tax note in
    the customer's language."""
    source = source_of(order, number)
    if source is None:
        raise KeyError(number)
    tax = order.tax or _legacy_tax(order, entity)
    language = "de" if language_of(order.customer.locale) == "de" else "en"
    c = order.currency
    lines = [_line(ln.line_id, ln.sku, ln.sku, ln.quantity, ln.unit_price, ln.net, ln.tax, tax,
                   tax.rate(ln.tax_class), c) for ln in source.lines]
    if source.shipping_net or source.shipping_tax:
        lines.append(_line("shipping", "SHIPPING", _SHIPPING[language], 1, source.shipping_net, source.shipping_net,
                           source.shipping_tax, tax, tax.rate("standard"), c))
    note = tax_note(tax.scheme, language)
    groups: dict[tuple[str, Decimal], list[DocumentLine]] = {}
    for line in lines:
        groups.setdefault((line.tax_category, line.tax_rate), []).append(line)
    breakdown = tuple(
        TaxBreakdown(tax_category=cat, tax_rate=rate, basis=sum((ln.net for ln in group), Decimal(0)),  # type: ignore[arg-type]
                     tax=sum((ln.tax for ln in group), Decimal(0)),
                     exemption_reason=note if cat in ("AE", "G") else None,
                     exemption_code=EXEMPTION_CODES.get(tax.scheme) if cat in ("AE", "G") else None)
        for (cat, rate), group in groups.items())
    issued = source.issued_at[:10]
    on_account = order.payment.method == "on_account" and isinstance(source, Invoice)
    # on account: as the invoice was issued with (the account's terms); one issued before
    # invoices carried it, on the default terms
    due = (source.due_date or due_date(source.issued_at, None)) if on_account and isinstance(source, Invoice) \
        else issued
    address = order.shipping_address
    # no contact data (finance reads the documents: API.md, Orders); BT-49 is optional
    buyer = Party(name=address.company or address.name, line1=address.line1, line2=address.line2,
                  city=address.city, postal_code=address.postal_code, country=address.country,
                  company=address.company, vat_id=tax.vat_id or order.customer.vat_id)
    seller = Party(name=entity.name, line1=entity.line1, city=entity.city, postal_code=entity.postal_code,
                   country=entity.country, vat_id=entity.vat_id_in(tax.country), email=entity.email)
    if isinstance(source, Invoice):
        kind, corrects, reference = "invoice", None, source.payment_reference
    else:
        kind, corrects, reference = "credit_note", source.corrects, source.refund_reference
    return Document(kind=kind, number=number, issued_at=source.issued_at, due_date=due, currency=c,  # type: ignore[arg-type]
                    language=language, seller=seller, buyer=buyer, lines=tuple(lines),  # type: ignore[arg-type]
                    breakdown=breakdown, net=source.net, tax=source.tax, gross=source.gross, order_id=order.order_id,
                    tax_note=note, purchase_order_number=order.purchase_order_number, corrects=corrects,
                    payment_reference=reference, payment_method=order.payment.method)


def _line(line_id: str, sku: str, description: str, quantity: int, unit_price: Decimal, net: Decimal, tax: Decimal,
          treatment: TaxTreatment, rate: Decimal, currency: str) -> DocumentLine:
    category = tax_category(treatment.scheme, rate_is_zero=not rate)
    return DocumentLine(line_id=line_id, sku=sku, description=description, quantity=quantity,
                        unit_price=unit_price, net=net, tax_category=category,  # type: ignore[arg-type]
                        tax_rate=rate, tax=tax, gross=net + tax)


def _legacy_tax(order: Order, entity: LegalEntity) -> TaxTreatment:
    """An order captured before tax schemes was taxed at its destination's rates (the table's;
    a line's rounded tax over its net would not give them back)."""
    country = order.shipping_address.country
    rates = {c: r for c in ("standard", "reduced", "zero") if (r := country_rate(country, c)) is not None}
    scheme = TaxScheme.DOMESTIC if country == entity.country else TaxScheme.ONE_STOP_SHOP
    return TaxTreatment(scheme=scheme, country=country, rates=rates)


def document_view(doc: Document) -> dict[str, Any]:
    """What ``GET /invoices/{number}`` adds to the listing's fields: the lines with their rates,
    the breakdown, the parties (no contact data), the tax note, the due date."""
    c = doc.currency

    def party(p: Party) -> dict[str, Any]:
        return {"name": p.name, "line1": p.line1, "line2": p.line2, "postal_code": p.postal_code, "city": p.city,
                "country": p.country, "vat_id": p.vat_id}

    return {
        "due_date": doc.due_date, "purchase_order_number": doc.purchase_order_number, "tax_note": doc.tax_note,
        "language": doc.language, "seller": party(doc.seller), "buyer": party(doc.buyer),
        "lines": [{"line_id": ln.line_id, "sku": ln.sku, "description": ln.description, "quantity": ln.quantity,
                   "unit_price": fmt(ln.unit_price, c), "net": fmt(ln.net, c), "tax_category": ln.tax_category,
                   "tax_rate": str(ln.tax_rate.normalize()) if ln.tax_rate else "0", "tax": fmt(ln.tax, c),
                   "gross": fmt(ln.gross, c)} for ln in doc.lines],
        "tax_breakdown": [{"tax_category": b.tax_category,
                           "tax_rate": str(b.tax_rate.normalize()) if b.tax_rate else "0",
                           "basis": fmt(b.basis, c), "tax": fmt(b.tax, c), "exemption_code": b.exemption_code}
                          for b in doc.breakdown],
    }
