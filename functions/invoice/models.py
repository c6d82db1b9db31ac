"""API shapes of the invoice capability (API.md "Finance"): the documents finance lists and reads,
on-account customers' credit accounts, payments and balances, finance's review list."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from .receivables import AccountTerms, PaymentCommand


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
    open_amount: str | None = Field(default=None, description="On account: what is still owed on the invoice "
                                    "(negative: a credit owed to the customer); null when not on account")


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


# -- on-account customers --------------------------------------------------------------------

#: A payer's reference (a bank transfer's end-to-end id, a remittance number).
PaymentReference = Annotated[str, StringConstraints(min_length=1, max_length=64,
                                                    pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/+-]*$")]


class CreditAccountIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    currency: str = Field(examples=["EUR"], description="ISO 4217 code the account is kept in; its on-account "
                          "orders must be in it")
    credit_limit: str = Field(examples=["5000.00"], description="Decimal string with the currency's decimals")
    payment_terms_days: int = Field(strict=True, ge=0, le=365, examples=[30],
                                    description="Days an invoice is due after its issue date")

    def to_terms(self) -> AccountTerms:
        return AccountTerms(currency=self.currency, credit_limit=self.credit_limit,
                            payment_terms_days=self.payment_terms_days)


class CreditAccountOut(BaseModel):
    channel: str
    customer_id: str
    currency: str
    credit_limit: str
    payment_terms_days: int
    available_credit: str = Field(description="The limit less what is owed or on order")
    exposure: str = Field(description="What is owed or on order on account (capture adds, payments, credit notes "
                          "and cancels give back)")


class PaymentIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    payment_reference: PaymentReference = Field(description="The payer's reference: the same one again for the "
                                                "invoice records nothing new")
    amount: str = Field(examples=["250.00"], description="Decimal string in the invoice's currency, at most what "
                        "is open")
    received_at: AwareDatetime | None = Field(default=None, description="When the money arrived (ISO 8601 with "
                                              "an offset); default now; never in the future")

    def to_command(self) -> PaymentCommand:
        return PaymentCommand(payment_reference=self.payment_reference, amount=self.amount,
                              received_at=self.received_at)


class PaymentOut(BaseModel):
    invoice_number: str
    order_id: str
    payment_reference: str
    amount: str
    currency: str
    received_at: str
    recorded_at: str
    open_amount: str = Field(description="What is still open on the invoice now")


class OpenItemOut(BaseModel):
    invoice_number: str
    order_id: str | None = None
    due_date: str | None
    open_amount: str = Field(description="Negative: a credit owed to the customer")
    days_overdue: int


class AgeingOut(BaseModel):
    """What is open by days past due (a credit owed to the customer counts as current)."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    current: str
    days_1_30: str = Field(alias="1-30")
    days_31_60: str = Field(alias="31-60")
    days_61_90: str = Field(alias="61-90")
    days_90_plus: str = Field(alias="90+")


class BalanceOut(BaseModel):
    channel: str
    customer_id: str
    currency: str
    credit_limit: str
    available_credit: str
    exposure: str
    payment_terms_days: int
    open_total: str = Field(description="The sum of the open items")
    open_items: list[OpenItemOut]
    ageing: AgeingOut


class ReviewEntryOut(BaseModel):
    """One entry of finance's review list: what failed for good, and why."""

    order_id: str
    shipment_id: str | None = Field(default=None, description="An invoicing run's shipment")
    invoice_number: str | None = Field(default=None, description="The invoice the run issued (marked FAILED)")
    return_id: str | None = Field(default=None, description="A refund run's return")
    receipt_id: str | None = None
    credit_note_number: str | None = None
    reason: str = Field(description="The error's name (e.g. PaymentDeclined, States.Timeout)")
    error: str | None = Field(default=None, description="Its message (the provider's code and text)")
    at: str


class ReviewListOut(BaseModel):
    entries: list[ReviewEntryOut]
    next_token: str | None = None
