"""Cancelling an order before its first dispatch: stock released, open requests withdrawn and
the notices it makes inapplicable (the order's confirmation) marked so they are never sent,
in one write, at the version read — or, for an order reserved in parts, the cancel first and
then each part's release; cancelling it again finishes a release that stopped half-way. No
AWS here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from functions.core.errors import Conflict
from functions.core.events import utc_now
from functions.core.orders import (
    CANCELLABLE,
    CancelReason,
    Order,
    OrderStatus,
    PartStatus,
    ShipmentStatus,
    TimelineEntry,
)
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
                if order.reservation_parts:  # a cancel of a large order that stopped half-way
                    self.store.release_parts(order)
                return replace(order, reservation_parts=())  # cancelling twice is harmless
            if order.status not in CANCELLABLE:
                raise Conflict(f"order {order_id} is {order.status.value}; it can no longer be cancelled")
            if any(p.status == PartStatus.SHIPPED for p in order.reservation_parts):
                raise Conflict(f"a shipment of order {order_id} is being dispatched; it can no longer be cancelled")
            at = self.clock()
            entry = TimelineEntry(at=at, event="OrderCancelled",
                                  detail={"reason": reason.value, "by": f"{principal.role}:{principal.principal_id}"})
            released = _released(at, order)
            try:
                cancelled = self.store.cancel(order, entry, reason.value, released)
            except Conflict:
                continue
            events = (entry, released) if released else (entry,)
            withdrawn = tuple(replace(s, status=ShipmentStatus.CANCELLED) if s.status == ShipmentStatus.REQUESTED
                              else s for s in order.shipments)
            return replace(cancelled, cancel_reason=reason.value, allocations=(), shipments=withdrawn,
                           timeline=(*order.timeline, *events), reservation_parts=())
        raise Conflict(f"order {order_id} keeps changing; try again")


def _released(at: str, order: Order) -> TimelineEntry | None:
    """``StockReleased``: each line's units, or — for an order reserved in parts, whose list
    would make the header (rewritten by every later write) tens of KB — how many lines, units
    and parts."""
    if order.reservation_parts:
        lines = [a for p in order.reservation_parts for a in p.lines]
        return TimelineEntry(at=at, event="StockReleased", detail={
            "lines": len(lines), "units": sum(a.quantity for a in lines), "parts": len(order.reservation_parts)})
    if not order.allocations:
        return None
    return TimelineEntry(at=at, event="StockReleased", detail={"released": [
        {"line_id": a.line_id, "sku": a.sku, "node_id": a.node_id, "quantity": a.quantity}
        for a in order.allocations]})
