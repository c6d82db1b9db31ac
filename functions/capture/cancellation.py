"""Cancelling an order before its first dispatch: stock released, open requests withdrawn and
the notices it makes inapplicable (the order's confirmation) marked so they are never sent,
in one write, at the version read. No AWS here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from functions.core.errors import Conflict
from functions.core.events import utc_now
from functions.core.orders import CANCELLABLE, CancelReason, Order, OrderStatus, ShipmentStatus, TimelineEntry
from functions.core.principal import Principal

from .ports import OrderStore
from .queries import visible_order


@dataclass
class Cancellation:
    store: OrderStore
    clock: Callable[[], str] = utc_now

    def cancel(self, order_id: str, principal: Principal, reason: CancelReason) -> Order:
        for _ in range(3):  # re-read on a concurrent change, then decide again
            order = visible_order(self.store, order_id, principal)
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
