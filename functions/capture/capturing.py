"""Capture: price and validate an order and record it once per Idempotency-Key, or quote it.
No AWS here: the store comes in through ``OrderStore`` (ports.py)."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from functions.core.errors import Conflict, ValidationFailed
from functions.core.events import utc_now
from functions.core.ids import new_id
from functions.core.money import fmt
from functions.core.orders import (
    Address,
    Customer,
    Order,
    OrderLine,
    OrderStatus,
    Payment,
    TimelineEntry,
    Totals,
)
from functions.core.principal import Principal
from functions.core.taxes import LegalEntity, TaxTreatment, tax_view

from .ports import (
    AlreadyCaptured,
    CaptureInProgress,
    CreditCurrencyMismatch,
    CreditLimitExceeded,
    DuplicateChannelOrder,
    IdempotencyClaim,
    OrderStore,
    VatRegistry,
)
from .pricing import LineInput, amount, price_order, wire_totals
from .taxation import treatment

#: How long an Idempotency-Key holds (API.md: kept 24 hours).
IDEMPOTENCY_TTL_SECONDS = 24 * 3600


@dataclass(frozen=True)
class NewLine:
    sku: str
    quantity: int
    #: As sent: a decimal string, checked against the order's currency when priced.
    unit_price: str
    tax_class: str = "standard"
    returnable: bool = True


@dataclass(frozen=True)
class NewPayment:
    method: str  # "card" | "on_account" | "none" (an exchange's replacement, made by the OMS itself)
    authorization_id: str | None = None
    amount: str | None = None


@dataclass(frozen=True)
class NewOrder:
    """The command to capture (or quote) an order: what a channel sent, shape-checked by the
    edge (API or feed), its amounts still text until priced in its currency."""

    customer: Customer
    currency: str
    lines: tuple[NewLine, ...]
    shipping_address: Address
    payment: NewPayment
    shipping_method: str = "standard"
    shipping_price: str | None = None
    channel_order_id: str | None = None
    purchase_order_number: str | None = None
    #: decided already (an exchange's replacement keeps its order's): VIES is not asked again
    tax: TaxTreatment | None = None


class DuplicateOrder(Conflict):
    def __init__(self, channel_order_id: str, existing_order_id: str | None) -> None:
        super().__init__(f"channel_order_id {channel_order_id!r} was already captured as order "
                         f"{existing_order_id}")
        self.existing_order_id = existing_order_id


def request_hash(body: Any) -> str:
    """The request as sent, canonically: equal JSON (whatever the key order) is the same request."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def price(new: NewOrder, tax: TaxTreatment | None = None) -> tuple[list[OrderLine], Totals]:
    """Lines and totals per API.md's money rules, at the rates ``tax`` charges (None: the
    destination's own); a bad amount is a 422 naming its field."""
    currency = new.currency
    inputs = [LineInput(quantity=ln.quantity, unit_price=amount(f"lines[{i}].unit_price", ln.unit_price, currency),
                        tax_class=ln.tax_class) for i, ln in enumerate(new.lines)]
    shipping_price = amount("shipping_price", new.shipping_price, currency) if new.shipping_price else None
    priced = price_order(currency=currency, country=new.shipping_address.country, lines=inputs,
                         shipping_method=new.shipping_method, shipping_price=shipping_price,
                         rate=None if tax is None else tax.rate)
    lines = [OrderLine(line_id=str(i + 1), sku=ln.sku, quantity=ln.quantity, unit_price=inp.unit_price,
                       tax_class=ln.tax_class, net=p.net, tax=p.tax, returnable=ln.returnable)
             for i, (ln, inp, p) in enumerate(zip(new.lines, inputs, priced.lines, strict=True))]
    return lines, priced.totals


def _payment(new: NewOrder, totals: Totals) -> Payment:
    p = new.payment
    if p.method == "none":  # an exchange's replacement (no channel can send it: PaymentIn refuses it)
        if totals.total:
            raise ValidationFailed("payment.method", "only an order at no charge has no payment")
        return Payment(method="none", amount=totals.total)
    if p.method == "card":
        if not p.authorization_id:
            raise ValidationFailed("payment.authorization_id", "is required for card payments")
        if p.amount is None:
            raise ValidationFailed("payment.amount", "is required for card payments")
        authorized = amount("payment.amount", p.amount, new.currency)
        if authorized < totals.total:
            raise ValidationFailed("payment.amount", f"authorised {fmt(authorized, new.currency)} is less than "
                                                     f"the order total {fmt(totals.total, new.currency)}")
        return Payment(method="card", authorization_id=p.authorization_id, amount=authorized)
    return Payment(method="on_account",
                   amount=amount("payment.amount", p.amount, new.currency) if p.amount else None)


@dataclass(frozen=True)
class Captured:
    order: Order
    #: True when this is the answer to a request made before with the same key and body.
    replayed: bool


def as_captured(order: Order) -> Order:
    """The order as its capture answered (what a replay returns): nothing that happened later.
    Built from what never changes, so a replay's body equals the original 201's."""
    first = tuple(e for e in order.timeline if e.event == "OrderCaptured")[:1]
    return replace(order, status=OrderStatus.CAPTURED, version=1, updated_at=order.created_at, cancel_reason=None,
                   timeline=first, allocations=(), shipments=(), invoices=(), finance_reviews=(),
                   payment_released_at=None)


@dataclass
class CaptureService:
    store: OrderStore
    clock: Callable[[], str] = utc_now
    epoch: Callable[[], float] = time.time
    #: who sells (its country and VAT registrations decide the tax scheme) and the VAT
    #: registry that checks a business customer's number; without an entity every order is
    #: taxed at its destination's rates
    legal_entity: LegalEntity | None = None
    vat_registry: VatRegistry | None = None

    def tax_of(self, new: NewOrder) -> TaxTreatment | None:
        if new.tax is not None or self.legal_entity is None or self.vat_registry is None:
            return new.tax
        return treatment(entity=self.legal_entity, country=new.shipping_address.country,
                         vat_id=new.customer.vat_id, registry=self.vat_registry)

    def capture_request(self, new: NewOrder, channel: str, key: str, body: Any) -> Captured:
        """What every intake does (the API's POST /orders, the SQS feed): capture ``new`` once
        per (channel, key), the request being ``body`` as the channel sent it."""
        return self.capture_once(new, Principal(role="channel", principal_id=channel), key, request_hash(body))

    def capture_once(self, new: NewOrder, principal: Principal, key: str, request_hash: str) -> Captured:
        """Capture once per (principal, Idempotency-Key): the key is recorded in the order's own
        transaction (one round trip; no record can outlive or precede its order). The same key
        with the same body answers the original order as captured; with another body, or while
        a concurrent request with the key is being written, it is a conflict."""
        claim = IdempotencyClaim(principal=principal.principal_id, key=key, request_hash=request_hash,
                                 expires_at=int(self.epoch()) + IDEMPOTENCY_TTL_SECONDS)
        if new.customer.vat_id and new.tax is None:
            # pricing it would ask VIES (seconds when it is slow): a key already used answers
            # first, as it would for a refused body, and a replay asks nothing
            held = self.answer_held_key(principal, key, request_hash_of=request_hash)
            if held is not None:
                return held
        try:
            return Captured(self.capture(new, principal, idempotency=claim), replayed=False)
        except ValidationFailed:
            # refused for its body before anything was written: a key already used answers first
            held = self.answer_held_key(principal, key, request_hash_of=request_hash)
            if held is None:
                raise
            return held
        except AlreadyCaptured as exc:
            order = self.store.get(exc.order_id) if exc.same_request else None
            if order is None:
                raise Conflict("Idempotency-Key was already used with a different body") from exc
            return Captured(as_captured(order), replayed=True)
        except CaptureInProgress as exc:
            raise Conflict("a concurrent request is writing the same order data (this Idempotency-Key, "
                           "channel_order_id or the customer's credit account); retry shortly") from exc

    def answer_held_key(self, principal: Principal, key: str, body: Any = None, *,
                        request_hash_of: str | None = None) -> Captured | None:
        """The key is checked before the body (API.md, Orders): when a request is refused for its
        body (invalid, or no longer priceable at today's prices and rates), a key already used
        answers instead — the original order for the same body (a replay is never re-priced), a
        conflict for any other. None when the key is unused, so the body's refusal stands. The
        request is ``body`` as sent, or its hash."""
        held = self.store.held_key(principal.principal_id, key)
        if held is None:
            return None
        if held.request_hash != (request_hash_of or request_hash(body)):
            raise Conflict("Idempotency-Key was already used with a different body")
        order = self.store.get(held.order_id)
        if order is None:  # the record is written with its order: only if the order was erased
            return None
        return Captured(as_captured(order), replayed=True)

    def quote(self, new: NewOrder) -> dict[str, Any]:
        tax = self.tax_of(new)
        lines, totals = price(new, tax)
        c = new.currency
        return {"currency": c, "totals": wire_totals(totals, c),
                "lines": [{"line_id": ln.line_id, "sku": ln.sku, "net": fmt(ln.net, c), "tax": fmt(ln.tax, c)}
                          for ln in lines],
                **({"tax": tax_view(tax, new.customer.locale)} if tax else {})}

    def capture(self, new: NewOrder, principal: Principal, idempotency: IdempotencyClaim | None = None,
                *, exchange_for: str | None = None) -> Order:
        tax = self.tax_of(new)
        lines, totals = price(new, tax)
        payment = _payment(new, totals)
        now = self.clock()
        order = Order(
            order_id=new_id("ord"), channel=principal.principal_id, channel_order_id=new.channel_order_id,
            status=OrderStatus.CAPTURED, version=1, currency=new.currency, customer=new.customer,
            lines=tuple(lines), shipping_address=new.shipping_address, shipping_method=new.shipping_method,
            payment=payment, totals=totals, created_at=now, updated_at=now, exchange_for=exchange_for,
            tax=tax, purchase_order_number=new.purchase_order_number,
        )
        first = TimelineEntry(at=now, event="OrderCaptured",
                              detail={"channel": order.channel, "channel_order_id": order.channel_order_id,
                                      "total": fmt(totals.total, order.currency), "lines": len(lines),
                                      **({"tax_scheme": tax.scheme.value} if tax else {}),
                                      **({"flags": list(tax.flags)} if tax and tax.flags else {}),
                                      **({"exchange_for": exchange_for} if exchange_for else {})})
        try:
            self.store.create(order, first, credit_limit_check=payment.method == "on_account", idempotency=idempotency)
        except DuplicateChannelOrder as exc:
            raise DuplicateOrder(new.channel_order_id or "", exc.existing_order_id) from exc
        except CreditCurrencyMismatch as exc:
            raise ValidationFailed("currency", f"the customer's credit account is kept in {exc.account_currency}; "
                                               f"an on-account order must be in {exc.account_currency}, "
                                               f"not {new.currency}") from exc
        except CreditLimitExceeded as exc:
            raise ValidationFailed("payment.method", "on_account needs a credit account for this customer "
                                                     "with enough available credit for the order total") from exc
        return replace(order, timeline=(first,))
