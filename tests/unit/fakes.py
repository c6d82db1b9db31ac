"""In-memory implementations of the ports, with the same conditional semantics as the table."""

from __future__ import annotations

import base64
from dataclasses import replace
from typing import Any

from functions.capture.ports import (
    AlreadyCaptured,
    CreditLimitExceeded,
    DuplicateChannelOrder,
    HeldKey,
    IdempotencyClaim,
)
from functions.core.errors import Conflict
from functions.core.orders import Order, OrderStatus, TimelineEntry


class FakeOrderStore:
    def __init__(self, credit: dict[tuple[str, str], Any] | None = None) -> None:
        self.orders: dict[str, Order] = {}
        self.refs: dict[tuple[str, str], str] = {}
        self.credit = dict(credit or {})
        self.released: list[Any] = []
        #: (principal, key) -> (request hash, order id, expires at)
        self.keys: dict[tuple[str, str], tuple[str, str, int]] = {}
        self.now = 0  # epoch seconds, for the keys' expiry

    def create(self, order: Order, first_event: TimelineEntry, *, credit_limit_check: bool = False,
               idempotency: IdempotencyClaim | None = None) -> None:
        held = self.keys.get((idempotency.principal, idempotency.key)) if idempotency else None
        if idempotency and held and held[2] >= self.now:  # checked first, as the table's transaction
            raise AlreadyCaptured(held[1], same_request=held[0] == idempotency.request_hash)
        ref = (order.channel, order.channel_order_id) if order.channel_order_id else None
        if ref and ref in self.refs:
            raise DuplicateChannelOrder(self.refs[ref])
        account = (order.channel, order.customer.customer_id)
        if credit_limit_check and (account not in self.credit or self.credit[account] < order.totals.total):
            raise CreditLimitExceeded()
        if credit_limit_check:
            self.credit[account] -= order.totals.total
        if ref:
            self.refs[ref] = order.order_id
        if idempotency:
            self.keys[(idempotency.principal, idempotency.key)] = (idempotency.request_hash, order.order_id,
                                                                   idempotency.expires_at)
        self.orders[order.order_id] = _with_events(order, (first_event,))

    def get(self, order_id: str) -> Order | None:
        return self.orders.get(order_id)

    def held_key(self, principal: str, key: str) -> HeldKey | None:
        held = self.keys.get((principal, key))
        if held is None or held[2] < self.now:
            return None
        return HeldKey(order_id=held[1], request_hash=held[0])

    def cancel(self, order: Order, entry: TimelineEntry, reason: str,
               released: TimelineEntry | None) -> Order:
        current = self.orders[order.order_id]
        if current.version != order.version:
            raise Conflict("changed concurrently")
        self.released += list(order.allocations) + [a for p in order.reservation_parts for a in p.lines]
        events = (entry, released) if released else (entry,)
        updated = replace(order.with_status(OrderStatus.CANCELLED, at=entry.at), cancel_reason=reason,
                          allocations=(), timeline=(*current.timeline, *events), reservation_parts=())
        self.orders[order.order_id] = updated
        return updated

    def release_parts(self, order: Order) -> None:
        self.released += [a for p in order.reservation_parts for a in p.lines]
        self.orders[order.order_id] = replace(self.orders[order.order_id], reservation_parts=())

    def channel_orders(self, channel: str, *, limit: int, token: str | None) -> tuple[list[dict[str, Any]], str | None]:
        return self._page(lambda o: o.channel == channel, limit=limit, token=token)

    def customer_orders(self, channel: str, customer_id: str, *, limit: int, token: str | None
                        ) -> tuple[list[dict[str, Any]], str | None]:
        return self._page(lambda o: (o.channel, o.customer.customer_id) == (channel, customer_id), limit=limit,
                          token=token)

    def month_orders(self, month: str, *, limit: int, token: str | None) -> tuple[list[dict[str, Any]], str | None]:
        return self._page(lambda o: o.created_at[:7] == month, limit=limit, token=token)

    def _page(self, listed: Any, *, limit: int, token: str | None) -> tuple[list[dict[str, Any]], str | None]:
        rows = sorted((o for o in self.orders.values() if listed(o)),
                      key=lambda o: (o.created_at, o.order_id), reverse=True)
        start = int(base64.b64decode(token)) if token else 0
        page = rows[start:start + limit]
        more = start + limit < len(rows)
        return ([{"order_id": o.order_id, "status": o.status.value, "created_at": o.created_at} for o in page],
                base64.b64encode(str(start + limit).encode()).decode() if more else None)


def _with_events(order: Order, timeline: tuple[TimelineEntry, ...]) -> Order:
    from dataclasses import replace

    return replace(order, timeline=timeline)
