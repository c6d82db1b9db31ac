"""Capture use cases: price, validate and record an order once; read, list, cancel it;
start its workflow. No AWS imports here: adapters come in through ports."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from functions.core.errors import BadRequest, Conflict, NotFound, ValidationFailed
from functions.core.events import DomainEvent, utc_now
from functions.core.ids import new_id
from functions.core.invoices import invoice_view
from functions.core.money import fmt
from functions.core.orders import (
    CANCELLABLE,
    Address,
    AlreadyCaptured,
    CancelReason,
    CaptureInProgress,
    CreditLimitExceeded,
    Customer,
    DuplicateChannelOrder,
    IdempotencyClaim,
    Order,
    OrderLine,
    OrderStatus,
    Payment,
    Shipment,
    ShipmentStatus,
    TimelineEntry,
    Totals,
)
from functions.core.ports import EventPublisher
from functions.core.pricing import LineInput, amount, price_order, wire_totals
from functions.core.principal import Principal

from .ports import OrderStore, WorkflowStarter

if TYPE_CHECKING:  # the API models (pydantic) load only where the API runs
    from .models import OrderIn

SOURCE = "oms.capture"


class DuplicateOrder(Conflict):
    def __init__(self, channel_order_id: str, existing_order_id: str | None) -> None:
        super().__init__(f"channel_order_id {channel_order_id!r} was already captured as order "
                         f"{existing_order_id}")
        self.existing_order_id = existing_order_id


def price(body: OrderIn) -> tuple[list[OrderLine], Totals]:
    """Lines and totals per API.md's money rules; a bad amount is a 422 naming its field."""
    currency = body.currency
    inputs = [LineInput(quantity=ln.quantity, unit_price=amount(f"lines[{i}].unit_price", ln.unit_price, currency),
                        tax_class=ln.tax_class) for i, ln in enumerate(body.lines)]
    shipping_price = amount("shipping_price", body.shipping_price, currency) if body.shipping_price else None
    priced = price_order(currency=currency, country=body.shipping_address.country, lines=inputs,
                         shipping_method=body.shipping_method, shipping_price=shipping_price)
    lines = [OrderLine(line_id=str(i + 1), sku=ln.sku, quantity=ln.quantity, unit_price=inp.unit_price,
                       tax_class=ln.tax_class, net=p.net, tax=p.tax)
             for i, (ln, inp, p) in enumerate(zip(body.lines, inputs, priced.lines, strict=True))]
    return lines, priced.totals


def _payment(body: OrderIn, totals: Totals) -> Payment:
    p = body.payment
    if p.method == "card":
        if not p.authorization_id:
            raise ValidationFailed("payment.authorization_id", "is required for card payments")
        if p.amount is None:
            raise ValidationFailed("payment.amount", "is required for card payments")
        authorized = amount("payment.amount", p.amount, body.currency)
        if authorized < totals.total:
            raise ValidationFailed("payment.amount", f"authorised {fmt(authorized, body.currency)} is less than "
                                                     f"the order total {fmt(totals.total, body.currency)}")
        return Payment(method="card", authorization_id=p.authorization_id, amount=authorized)
    return Payment(method="on_account",
                   amount=amount("payment.amount", p.amount, body.currency) if p.amount else None)


#: How long an Idempotency-Key holds (API.md: kept 24 hours).
IDEMPOTENCY_TTL_SECONDS = 24 * 3600


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

    def capture_once(self, body: OrderIn, principal: Principal, key: str, request_hash: str) -> Captured:
        """Capture once per (principal, Idempotency-Key): the key is recorded in the order's own
        transaction (one round trip; no record can outlive or precede its order). The same key
        with the same body answers the original order as captured; with another body, or while
        a concurrent request with the key is being written, it is a conflict."""
        claim = IdempotencyClaim(principal=principal.principal_id, key=key, request_hash=request_hash,
                                 expires_at=int(self.epoch()) + IDEMPOTENCY_TTL_SECONDS)
        try:
            return Captured(self.capture(body, principal, idempotency=claim), replayed=False)
        except AlreadyCaptured as exc:
            order = self.store.get(exc.order_id) if exc.same_request else None
            if order is None:
                raise Conflict("Idempotency-Key was already used with a different body") from exc
            return Captured(as_captured(order), replayed=True)
        except CaptureInProgress as exc:
            raise Conflict("a concurrent request is writing the same order data (this Idempotency-Key, "
                           "channel_order_id or the customer's credit account); retry shortly") from exc

    def quote(self, body: OrderIn) -> dict[str, Any]:
        lines, totals = price(body)
        c = body.currency
        return {"currency": c, "totals": wire_totals(totals, c),
                "lines": [{"line_id": ln.line_id, "sku": ln.sku, "net": fmt(ln.net, c), "tax": fmt(ln.tax, c)}
                          for ln in lines]}

    def capture(self, body: OrderIn, principal: Principal, idempotency: IdempotencyClaim | None = None) -> Order:
        lines, totals = price(body)
        payment = _payment(body, totals)
        now = self.clock()
        order = Order(
            order_id=new_id("ord"), channel=principal.principal_id, channel_order_id=body.channel_order_id,
            status=OrderStatus.CAPTURED, version=1, currency=body.currency,
            customer=Customer(**body.customer.model_dump()), lines=tuple(lines),
            shipping_address=Address(**body.shipping_address.model_dump()),
            shipping_method=body.shipping_method, payment=payment, totals=totals,
            created_at=now, updated_at=now,
        )
        first = TimelineEntry(at=now, event="OrderCaptured",
                              detail={"channel": order.channel, "channel_order_id": order.channel_order_id,
                                      "total": fmt(totals.total, order.currency), "lines": len(lines)})
        try:
            self.store.create(order, first, credit_limit_check=payment.method == "on_account", idempotency=idempotency)
        except DuplicateChannelOrder as exc:
            raise DuplicateOrder(body.channel_order_id or "", exc.existing_order_id) from exc
        except CreditLimitExceeded as exc:
            raise ValidationFailed("payment.method", "on_account needs a credit account for this customer "
                                                     "with enough available credit for the order total") from exc
        return replace(order, timeline=(first,))

    def get(self, order_id: str, principal: Principal) -> Order:
        order = self.store.get(order_id)
        if order is None or not order.visible_to(principal.role, principal.principal_id):
            raise NotFound(f"order {order_id} does not exist")
        return order

    def list(self, principal: Principal, *, customer_id: str | None, limit: int, token: str | None
             ) -> tuple[list[dict[str, Any]], str | None]:
        if principal.role == "channel":
            if customer_id:
                return self.store.list_page("GSI2", f"CUSTOMER#{principal.principal_id}#{customer_id}",
                                            limit=limit, token=token)
            return self.store.list_page("GSI1", f"CHANNEL#{principal.principal_id}", limit=limit, token=token)
        return _list_all(self.store, self.clock(), customer_id=customer_id, limit=limit, token=token)

    def cancel(self, order_id: str, principal: Principal, reason: CancelReason) -> Order:
        for _ in range(3):  # re-read on a concurrent change, then decide again
            order = self.get(order_id, principal)
            if order.status == OrderStatus.CANCELLED:
                return order  # cancelling twice is harmless
            if order.status not in CANCELLABLE:
                raise Conflict(f"order {order_id} is {order.status.value}; it can no longer be cancelled")
            at = self.clock()
            entry = TimelineEntry(at=at, event="OrderCancelled",
                                  detail={"reason": reason.value, "by": f"{principal.role}:{principal.principal_id}"})
            released = TimelineEntry(at=at, event="StockReleased", detail={"released": [
                {"line_id": a.line_id, "sku": a.sku, "node_id": a.node_id, "quantity": a.quantity}
                for a in order.allocations]}) if order.allocations else None
            try:
                cancelled = self.store.cancel(order, entry, reason.value, released)
            except Conflict:
                continue
            events = (entry, released) if released else (entry,)
            withdrawn = tuple(replace(s, status=ShipmentStatus.CANCELLED) if s.status == ShipmentStatus.REQUESTED
                              else s for s in order.shipments)
            return replace(cancelled, cancel_reason=reason.value, allocations=(), shipments=withdrawn,
                           timeline=(*order.timeline, *events))
        raise Conflict(f"order {order_id} keeps changing; try again")


def _list_all(store: OrderStore, now: str, *, customer_id: str | None, limit: int, token: str | None
              ) -> tuple[list[dict[str, Any]], str | None]:
    """Agents and finance list every order, newest first, across monthly index partitions.

    The token carries the month it stopped in (``<yyyy-mm>|<index token>``); empty months
    are skipped, and a year of empty months ends the listing.
    """
    if customer_id:
        raise ValidationFailed("customer_id", "customer ids are per channel; agents list a customer's orders "
                                              "with the channel's key or by order id")
    month, inner = (token.split("|", 1) if token and "|" in token else (now[:7], None))
    if not _is_month(month):
        raise BadRequest("next_token is not a token this API issued")
    found: list[dict[str, Any]] = []
    empty = 0
    while len(found) < limit and empty < 12:
        page, inner = store.list_page("GSI3", f"ORDERS#{month}", limit=limit - len(found), token=inner)
        found.extend(page)
        empty = 0 if page else empty + 1
        if inner:
            return found, f"{month}|{inner}"
        month = _previous_month(month)
    return found, (f"{month}|" if len(found) >= limit and empty < 12 else None)


def _is_month(text: str) -> bool:
    return len(text) == 7 and text[4] == "-" and text[:4].isdigit() and text[5:].isdigit()


def _previous_month(month: str) -> str:
    year, mon = int(month[:4]), int(month[5:])
    return f"{year - 1}-12" if mon == 1 else f"{year}-{mon - 1:02d}"


def shipment_view(s: Shipment) -> dict[str, Any]:
    return {"shipment_id": s.shipment_id, "node_id": s.node_id, "status": s.status.value,
            "lines": [{"line_id": ln.line_id, "sku": ln.sku, "quantity": ln.quantity} for ln in s.lines],
            "carrier": s.carrier, "tracking_number": s.tracking_number, "requested_at": s.requested_at,
            "dispatched_at": s.dispatched_at}


def order_view(order: Order) -> dict[str, Any]:
    """The order as API.md shows it."""
    c = order.currency
    return {
        "order_id": order.order_id, "channel": order.channel, "channel_order_id": order.channel_order_id,
        "status": order.status.value, "currency": c,
        "customer": {k: v for k, v in vars(order.customer).items() if v is not None},
        "lines": [{"line_id": ln.line_id, "sku": ln.sku, "quantity": ln.quantity,
                   "unit_price": fmt(ln.unit_price, c), "tax_class": ln.tax_class} for ln in order.lines],
        "shipping_address": {k: v for k, v in vars(order.shipping_address).items() if v is not None},
        "shipping_method": order.shipping_method,
        "payment": {"method": order.payment.method, "authorization_id": order.payment.authorization_id,
                    "amount": fmt(order.payment.amount, c) if order.payment.amount is not None else None},
        "totals": wire_totals(order.totals, c),
        "shipments": [shipment_view(s) for s in order.shipments],
        "invoices": [invoice_view(i) for i in order.invoices], "returns": [],
        "timeline": [{"at": e.at, "event": e.event, "detail": e.detail} for e in order.timeline],
        "cancel_reason": order.cancel_reason,
        "finance_review": list(order.finance_reviews),
        "created_at": order.created_at, "updated_at": order.updated_at,
    }


# -- workflow start (stream consumer) ----------------------------------------------------

@dataclass
class WorkflowService:
    starter: WorkflowStarter
    publisher: EventPublisher
    clock: Callable[[], str] = utc_now

    def on_order_captured(self, order_id: str, summary: dict[str, Any]) -> str:
        """Start the order's workflow and announce the order.

        At least once, with no write of its own: a redelivered stream record starts a second
        execution, which changes nothing — Reserve and Backorder move the order out of
        CAPTURED with a conditional write that records the execution (``accepted_by``), and
        every later task is conditioned on it, so exactly one execution carries the order.
        ``OrderCaptured`` keeps one event id per order, so subscribers drop a repeat.
        """
        # the name's suffix is the ULID's random part: the name is the token Reserve records
        # (accepted_by), so two executions of one order never share it
        arn = self.starter.start(f"{order_id}-{new_id('x')[-12:]}", {"order_id": order_id})
        self.publisher.publish([DomainEvent(name="OrderCaptured", source=SOURCE, data=summary,
                                            event_id=f"evt_{order_id}_captured", correlation_id=order_id)])
        return arn
