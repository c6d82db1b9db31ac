"""API shapes of the invoice capability (API.md "Finance"): the documents finance lists and reads."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class DocumentSummaryOut(BaseModel):
    """An invoice (``kind: invoice``) or a credit note (``kind: credit_note``, amounts positive)."""

    invoice_number: str = Field(examples=["INV-2026-000042"])
    kind: Literal["invoice", "credit_note"]
    order_id: str
    issued_at: str
    net: str
    tax: str
    gross: str
    currency: str
    #: an invoice: PENDING, CAPTURED, ON_ACCOUNT, FAILED; a credit note's refund: PENDING,
    #: REFUNDED, CREDITED, FAILED
    payment_status: str | None = None
    payment_reference: str | None = None
    #: a credit note: the invoice it corrects
    corrects: str | None = None
    legal_entity: str | None = None


class DocumentListOut(BaseModel):
    invoices: list[DocumentSummaryOut]
    next_token: str | None = None


class PartyOut(BaseModel):
    name: str
    line1: str
    line2: str | None = None
    postal_code: str
    city: str
    country: str
    vat_id: str | None = None


class DocumentLineOut(BaseModel):
    #: the order's line id, or ``shipping``
    line_id: str
    sku: str
    description: str
    quantity: int
    unit_price: str
    net: str
    #: EN 16931 VAT category: S (standard or reduced rate), Z (zero rated), AE (reverse charge),
    #: G (export outside the EU)
    tax_category: Literal["S", "Z", "AE", "G"]
    #: the rate as a fraction ("0.19")
    tax_rate: str
    tax: str
    gross: str


class TaxBreakdownOut(BaseModel):
    tax_category: Literal["S", "Z", "AE", "G"]
    tax_rate: str
    basis: str
    tax: str
    #: VATEX code of an exempt category (VATEX-EU-AE, VATEX-EU-G)
    exemption_code: str | None = None


class DocumentOut(DocumentSummaryOut):
    shipment_id: str | None = None
    return_id: str | None = None
    receipt_id: str | None = None
    total: str
    due_date: str = Field(description="ISO date the document is due (on account: issue date + terms)")
    purchase_order_number: str | None = None
    tax_note: str | None = Field(default=None, description="Reverse charge or export note, in the customer's "
                                                           "language; null when VAT is charged")
    language: Literal["en", "de"]
    seller: PartyOut
    buyer: PartyOut
    lines: list[DocumentLineOut]
    tax_breakdown: list[TaxBreakdownOut]
    pdf_url: str | None = Field(default=None, description="Short-lived link to the PDF (Factur-X, PDF/A-3); null "
                                                          "until rendered")
    einvoice_url: str | None = Field(default=None, description="Short-lived link to the EN 16931 CII XML; null "
                                                               "until rendered")
