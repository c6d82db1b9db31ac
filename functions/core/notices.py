"""Which customer notices an order's status makes inapplicable, once for every side: notify
(its read check), and the transitions that mark the claims of the notices they supersede in
their own transaction (capture's cancel, allocate's Reserve of a backordered order). Also the
notice id shape both sides key the claim with. No AWS here; the key shape is
``core/adapters/keys.py``'s ``order_notice_key``.

Per kind (order notices only; a dispatch notice — its shipment is dispatched, after which the
order cannot be cancelled — a cancellation notice — CANCELLED is final — and the return notices
— a return authorised, a credit note refunded, facts that no later status undoes — always apply):

- ``order_confirmed``, sent after ``OrderAllocated`` (the workflow's NotifyConfirmed follows a
  committed Reserve): inapplicable once cancelled.
- ``order_backordered``, sent after ``OrderBackordered`` (NotifyBackordered follows a
  committed Backorder): inapplicable once the order is allocated (stock arrived) or cancelled.

An order's status only moves forward, so these statuses are left for good.
"""

from __future__ import annotations

from functions.core.orders import OrderStatus

_AFTER_ALLOCATION = frozenset({OrderStatus.IN_FULFILLMENT, OrderStatus.PARTIALLY_SHIPPED, OrderStatus.SHIPPED,
                               OrderStatus.COMPLETED})

#: Per kind, the statuses in which its notice no longer applies, for good.
SUPERSEDED_IN: dict[str, frozenset[OrderStatus]] = {
    "order_confirmed": frozenset({OrderStatus.CANCELLED}),
    "order_backordered": _AFTER_ALLOCATION | {OrderStatus.CANCELLED},
}

#: Per kind, the timeline event after which (and only after which) the workflow sends it.
TRIGGERED_BY: dict[str, str] = {
    "order_confirmed": "OrderAllocated",
    "order_backordered": "OrderBackordered",
}


def superseded_by(status: OrderStatus) -> tuple[str, ...]:
    """The kinds a transition into ``status`` makes inapplicable (in a stable order)."""
    return tuple(kind for kind, statuses in SUPERSEDED_IN.items() if status in statuses)


def inapplicable(kind: str, status: OrderStatus) -> str | None:
    """Why ``kind`` no longer applies to an order in ``status`` (None: it does). The same
    reason is what a transition's mark on the claim says."""
    if status not in SUPERSEDED_IN.get(kind, frozenset()):
        return None
    return "order cancelled" if status == OrderStatus.CANCELLED else f"order is {status.value}"


def notice_id(kind: str, order_id: str, ref: str | None = None) -> str:
    """The id of a notice (one per order and kind, or per shipment, return or credit note and
    kind): ``<kind>#<ref>``."""
    return f"{kind}#{ref or order_id}"
