"""API shapes of the capture capability (input and output), mapped to the use cases' command
(``NewOrder``) here. Domain entities live in ``functions.core.orders``; DynamoDB item shapes in
``adapters/order_table.py`` and ``functions/core/adapters/order_reader.py``."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from functions.capture.capturing import NewLine, NewOrder, NewPayment
from functions.core.money import CURRENCIES
from functions.core.orders import Address, CancelReason, Customer, OrderStatus

MAX_LINES = 250

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Sku = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64,
                                       pattern=r"^[A-Za-z0-9][A-Za-z0-9._\-/]*$")]
#: Amounts are strings on the wire; the currency-aware check happens in the use case,
#: which knows the order's currency.
AmountText = Annotated[str, Field(description='Decimal string in the currency\'s minor unit, e.g. "12.50"',
                                  examples=["12.50"])]
Country = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$"),
                    Field(description="ISO 3166-1 alpha-2, upper case", examples=["DE"])]
PurchaseOrderNumber = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
                               Field(description="The buyer's order reference (EN 16931 BT-13)", examples=["PO-4711"])]
Phone = Annotated[str, StringConstraints(pattern=r"^\+[1-9][0-9]{6,14}$"),
                  Field(description="E.164", examples=["+4915112345678"])]


class _Deferred(BaseModel):
    """Validators and serializers built on first use, not at import: a function builds the
    shapes its route uses (the API's ``GET /orders/<id>`` never builds ``OrderIn``, the feed's
    intake no output shape)."""

    model_config = ConfigDict(defer_build=True)


class _Strict(_Deferred):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CustomerIn(_Strict):
    customer_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    email: Annotated[str, StringConstraints(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
    phone: Phone | None = None
    locale: Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-[A-Z]{2})?$")] = "en"
    name: Text | None = None
    #: a business customer's VAT number with its country prefix; an EU number of another member
    #: state than the seller's is checked through VIES at capture (valid: reverse charge, 0 %)
    vat_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=4, max_length=20,
                                             pattern=r"^[A-Za-z]{2}[A-Za-z0-9 .\-]{2,18}$"),
                      Field(description="VAT number with its country prefix (Greece: EL)",
                            examples=["FR40303265045"])] | None = None


class AddressIn(_Strict):
    name: Text
    line1: Text
    line2: Text | None = None
    company: Text | None = None
    city: Text
    postal_code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=16)]
    region: Text | None = None
    country: Country
    phone: Phone | None = None


class LineIn(_Strict):
    sku: Sku
    quantity: Annotated[int, Field(strict=True, ge=1, le=10_000)]
    unit_price: AmountText
    tax_class: Literal["standard", "reduced", "zero"] = "standard"
    #: false: the line can never be returned (hygiene goods, personalised items)
    returnable: Annotated[bool, Field(strict=True)] = True


class PaymentIn(_Strict):
    method: Literal["card", "on_account"]
    authorization_id: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = None
    amount: AmountText | None = None


class OrderIn(_Strict):
    """Body of ``POST /orders`` and ``POST /orders/quote``."""

    channel_order_id: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    customer: CustomerIn
    currency: str
    lines: list[LineIn] = Field(min_length=1)
    shipping_address: AddressIn
    shipping_method: Literal["standard", "express"] = "standard"
    shipping_price: AmountText | None = None
    payment: PaymentIn
    #: the customer's purchase order number, printed on every invoice and credit note
    purchase_order_number: PurchaseOrderNumber | None = None

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        if value not in CURRENCIES:
            raise ValueError(f"unknown currency {value!r}; accepted: {', '.join(CURRENCIES)}")
        return value

    @field_validator("lines", mode="before")
    @classmethod
    def _at_most_250(cls, value: object) -> object:
        if isinstance(value, list) and len(value) > MAX_LINES:
            raise ValueError(f"an order has at most {MAX_LINES} lines; this one has {len(value)}")
        return value

    def to_command(self) -> NewOrder:
        return NewOrder(
            channel_order_id=self.channel_order_id, customer=Customer(**self.customer.model_dump()),
            currency=self.currency,
            lines=tuple(NewLine(sku=ln.sku, quantity=ln.quantity, unit_price=ln.unit_price, tax_class=ln.tax_class,
                                returnable=ln.returnable)
                        for ln in self.lines),
            shipping_address=Address(**self.shipping_address.model_dump()), shipping_method=self.shipping_method,
            shipping_price=self.shipping_price, purchase_order_number=self.purchase_order_number,
            payment=NewPayment(method=self.payment.method, authorization_id=self.payment.authorization_id,
                               amount=self.payment.amount))


class CancelIn(_Strict):
    reason: CancelReason = CancelReason.OTHER


class Totals(_Deferred):
    subtotal: str
    shipping: str
    tax: str
    total: str


class LineOut(_Deferred):
    line_id: str
    sku: str
    quantity: int
    unit_price: str
    tax_class: str
    returnable: bool = True


class TimelineOut(_Deferred):
    at: str
    event: str
    detail: dict[str, object] = {}


class InvoiceOut(_Deferred):
    """An invoice (``kind: invoice``) or a credit note (``kind: credit_note``, amounts positive)."""

    invoice_number: str
    kind: Literal["invoice", "credit_note"]
    order_id: str
    #: the shipment an invoice bills (null for a credit note)
    shipment_id: str | None = None
    legal_entity: str
    issued_at: str
    currency: str
    net: str
    tax: str
    gross: str
    total: str
    #: an invoice: PENDING, CAPTURED, ON_ACCOUNT, FAILED; a credit note's refund: PENDING,
    #: REFUNDED (card), CREDITED (on account), FAILED
    payment_status: str
    payment_reference: str | None = None
    #: a credit note: the invoice it corrects, the return and receipt it credits, the shipping it refunds
    corrects: str | None = None
    return_id: str | None = None
    receipt_id: str | None = None
    shipping: str | None = None
    #: an on-account invoice: when it is due (issue date + the account's terms) and what is still open
    due_date: str | None = None
    open_amount: str | None = None


class TaxOut(_Deferred):
    scheme: Literal["domestic", "one_stop_shop", "reverse_charge", "export", "foreign_registration"]
    country: str
    vat_id: str | None = None
    vat_id_status: Literal["valid", "not_registered", "unverified", "not_applicable"] | None = None
    note: str | None = None
    flags: list[str] = []


class OrderOut(_Deferred):
    order_id: str
    channel: str
    channel_order_id: str | None
    status: OrderStatus
    currency: str
    customer: dict[str, object]
    lines: list[LineOut]
    shipping_address: dict[str, object]
    shipping_method: str
    payment: dict[str, object]
    totals: Totals
    shipments: list[dict[str, object]] = []
    invoices: list[InvoiceOut] = []
    returns: list[dict[str, object]] = []
    #: the customer's purchase order number (printed on the documents)
    purchase_order_number: str | None = None
    #: how the order is taxed: scheme (domestic, one_stop_shop, reverse_charge, export,
    #: foreign_registration), country, vat_id, vat_id_status (valid, not_registered,
    #: unverified, not_applicable), the documents' tax note, flags (vat_id_unverified)
    tax: TaxOut | None = None
    #: What waits for stock (line_id, sku, quantity): every line of a BACKORDERED order, none
    #: of any other (an order is allocated whole); COMPLETED needs it empty.
    backordered_lines: list[dict[str, object]] = []
    timeline: list[TimelineOut] = []
    cancel_reason: str | None = None
    #: The return whose exchange this order is (its goods sent at no charge); null otherwise.
    exchange_for: str | None = None
    #: Invoicing steps that failed for good; finance looks at these orders.
    finance_review: list[dict[str, object]] = []
    created_at: str
    updated_at: str


class OrderSummaryOut(_Deferred):
    order_id: str
    channel: str
    channel_order_id: str | None = None
    customer_id: str
    status: OrderStatus
    currency: str
    total: str
    created_at: str


class OrderListOut(_Deferred):
    orders: list[OrderSummaryOut]
    next_token: str | None = None


class QuoteOut(_Deferred):
    currency: str
    totals: Totals
    lines: list[dict[str, str]]
    tax: TaxOut | None = None


class ResumeStepOut(_Deferred):
    """One idempotent step the resume started."""

    action: Literal["start_fulfillment", "start_invoicing", "send_notice"]
    reason: str = Field(description="Why the order was owed it")
    shipment_id: str | None = None
    notice: str | None = Field(default=None, description="The notice's kind, for send_notice")
    execution_name: str | None = Field(default=None, description="The workflow execution started")


class ResumeOut(_Deferred):
    order_id: str
    status: OrderStatus = Field(description="The order's status when the resume read it")
    resumed: bool = Field(description="True (202): steps were started; false (200): nothing was owed")
    steps: list[ResumeStepOut]
    waiting: str | None = Field(default=None, description="What the order legitimately waits for, when nothing "
                                                          "was owed (e.g. a node's dispatch)")
