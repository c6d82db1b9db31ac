"""Reading orders: one order as its caller may see it, and the listings (a channel's orders,
one of its customers', every order for agents and finance), newest first. No AWS here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from functions.core.errors import BadRequest, NotFound, ValidationFailed
from functions.core.events import utc_now
from functions.core.orders import Order
from functions.core.principal import Principal

from .ports import OrderReader, OrderStore, Page


def visible_order(orders: OrderReader, order_id: str, principal: Principal) -> Order:
    """The order, or NotFound: another channel's order does not exist for a channel."""
    order = orders.get(order_id)
    if order is None or not order.visible_to(principal.role, principal.principal_id):
        raise NotFound(f"order {order_id} does not exist")
    return order


@dataclass
class OrderQueries:
    store: OrderStore
    clock: Callable[[], str] = utc_now

    def get(self, order_id: str, principal: Principal) -> Order:
        return visible_order(self.store, order_id, principal)

    def list(self, principal: Principal, *, customer_id: str | None, limit: int, token: str | None) -> Page:
        if principal.role == "channel":
            if customer_id:
                return self.store.customer_orders(principal.principal_id, customer_id, limit=limit, token=token)
            return self.store.channel_orders(principal.principal_id, limit=limit, token=token)
        return _list_all(self.store, self.clock(), customer_id=customer_id, limit=limit, token=token)


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
        page, inner = store.month_orders(month, limit=limit - len(found), token=inner)
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
