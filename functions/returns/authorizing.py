"""Authorising a return (API.md "Returns"): which units of an order may come back, where they go,
and the one conditional write that makes concurrent returns of a line never exceed what was
dispatched. No AWS here.

Eligibility, per requested line, each refusal a 422 naming the field:
- the line exists in the order, is named once, and was not captured ``returnable: false``;
- some of it was dispatched, and its last dispatch is within the channel's return window
  (``return_window_days``, 30 unless the channel sets another) — the window runs from the
  dispatch of that line;
- at most what was dispatched minus what is already returned or on its way back (the ledger).

The ledger is checked here, on the order as read consistently, and the write holds it under
concurrency: it is conditional on the order's count of returns being the one read, so a return
authorised between the read and the write makes it fail (``LedgerMoved``) and the order is read
and judged again. (The return's id, the order's n-th, is new only once: a second guard.)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from functions.core.errors import Conflict, NotFound, ValidationFailed
from functions.core.events import after, utc_now
from functions.core.orders import Order, ShipmentStatus, TimelineEntry
from functions.core.principal import Principal
from functions.core.returns import (
    ExchangeLine,
    Return,
    ReturnLine,
    ReturnOutcome,
    ReturnReason,
    ReturnStatus,
    return_id_for,
    return_view,
    rma_number_for,
)
from functions.returns.lookup import find_return

from .ports import ChannelSettings, LedgerMoved, OrderReader, ReturnNode, ReturnNodes, ReturnStore

#: Reads and writes of one authorisation before it gives up (409): each lost race means another
#: return of the same order was authorised in between.
ATTEMPTS = 8
DAY = 86_400


@dataclass(frozen=True)
class RequestedLine:
    line_id: str
    quantity: int
    reason: ReturnReason


@dataclass(frozen=True)
class ReturnRequest:
    lines: tuple[RequestedLine, ...]
    outcome: ReturnOutcome = ReturnOutcome.REFUND
    exchange_lines: tuple[ExchangeLine, ...] | None = None


@dataclass(frozen=True)
class Authorized:
    view: dict[str, Any]
    replayed: bool = False


def dispatched_units(order: Order) -> dict[str, tuple[int, str]]:
    """Per line id: the units dispatched and the time of the line's last dispatch."""
    out: dict[str, tuple[int, str]] = {}
    for s in order.shipments:
        if s.status != ShipmentStatus.DISPATCHED or not s.dispatched_at:
            continue
        for ln in s.lines:
            units, last = out.get(ln.line_id, (0, ""))
            out[ln.line_id] = (units + ln.quantity, max(last, s.dispatched_at))
    return out


def assess(order: Order, request: ReturnRequest, *, window_days: int, now: str) -> dict[str, int]:
    """The units dispatched of each requested line (what the ledger may hold of it once this
    return is in), or ValidationFailed naming the first field refused."""
    if request.outcome == ReturnOutcome.EXCHANGE and not request.exchange_lines:
        raise ValidationFailed("exchange_lines", "an EXCHANGE names what the customer gets instead")
    if request.outcome == ReturnOutcome.REFUND and request.exchange_lines is not None:
        raise ValidationFailed("exchange_lines", "only with outcome EXCHANGE")
    lines = {ln.line_id: ln for ln in order.lines}
    dispatched = dispatched_units(order)
    ceilings: dict[str, int] = {}
    for i, asked in enumerate(request.lines):
        field = f"lines[{i}]"
        line = lines.get(asked.line_id)
        if line is None:
            raise ValidationFailed(f"{field}.line_id", f"order {order.order_id} has no line {asked.line_id!r}")
        if asked.line_id in ceilings:
            raise ValidationFailed(f"{field}.line_id", f"line {asked.line_id} is named twice; name it once")
        if not line.returnable:
            raise ValidationFailed(f"{field}.line_id", f"line {asked.line_id} was sold as not returnable")
        units, last_dispatch = dispatched.get(asked.line_id, (0, ""))
        if units == 0:
            raise ValidationFailed(f"{field}.line_id", f"line {asked.line_id} has not been dispatched yet")
        closes = after(last_dispatch, window_days * DAY)
        if now > closes:
            raise ValidationFailed(f"{field}.line_id", (
                f"the return window of line {asked.line_id} closed at {closes} "
                f"({window_days} days after its dispatch at {last_dispatch})"))
        already = order.returning.get(asked.line_id, 0)
        if asked.quantity > units - already:
            raise ValidationFailed(f"{field}.quantity", (
                f"at most {max(units - already, 0)} of line {asked.line_id} can be returned "
                f"({units} dispatched, {already} returned or on the way back)"))
        ceilings[asked.line_id] = units
    return ceilings


def destination(order: Order, request: ReturnRequest, nodes: Sequence[ReturnNode]) -> ReturnNode:
    """Where the goods go (API.md): the node that shipped the return's first line, if it is active
    and accepts returns; else the best-priority such node in the destination country; else the
    best-priority such node anywhere."""
    taking = [n for n in nodes if n.active and n.accepts_returns]
    first = request.lines[0].line_id
    shipped_from = [s for s in order.shipments if s.status == ShipmentStatus.DISPATCHED
                    and any(ln.line_id == first for ln in s.lines)]
    if shipped_from:
        latest = max(shipped_from, key=lambda s: s.dispatched_at or "")
        node = next((n for n in taking if n.node_id == latest.node_id), None)
        if node is not None:
            return node
    country = order.shipping_address.country
    best = sorted(taking, key=lambda n: (n.country != country, n.priority, n.node_id))
    if not best:
        raise Conflict("no active node accepts returns: an agent must set accepts_returns on one (PUT /nodes)")
    return best[0]


def request_digest(request: ReturnRequest) -> str:
    body = {"lines": [[ln.line_id, ln.quantity, ln.reason.value] for ln in request.lines],
            "outcome": request.outcome.value,
            "exchange_lines": [[e.sku, e.quantity] for e in request.exchange_lines or ()]}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def key_digest(principal: Principal, key: str) -> str:
    return hashlib.sha256(f"{principal.role}\x00{principal.principal_id}\x00{key}".encode()).hexdigest()


@dataclass
class ReturnService:
    orders: OrderReader
    store: ReturnStore
    nodes: ReturnNodes
    clock: Callable[[], str] = utc_now

    def authorize(self, order_id: str, principal: Principal, request: ReturnRequest,
                  idempotency_key: str | None = None) -> Authorized:
        digest = request_digest(request)
        keyed = key_digest(principal, idempotency_key) if idempotency_key else None
        settings: ChannelSettings | None = None
        nodes: list[ReturnNode] | None = None
        for _ in range(ATTEMPTS):
            order = self._order(order_id, principal)
            earlier = next((r for r in order.returns if keyed and r.request_key == keyed), None)
            if earlier is not None:
                if earlier.request_digest != digest:
                    raise Conflict("this Idempotency-Key was used for another return of this order")
                return Authorized(return_view(earlier), replayed=True)
            # read once: a lost race re-reads only the order
            settings = settings or self.store.settings(order.channel)
            now = self.clock()
            assess(order, request, window_days=settings.return_window_days, now=now)
            nodes = nodes if nodes is not None else self.nodes.nodes()
            node = destination(order, request, nodes)
            skus = {ln.line_id: ln.sku for ln in order.lines}
            return_id = return_id_for(order.order_id, len(order.returns) + 1)
            ret = Return(
                return_id=return_id, rma_number=rma_number_for(return_id), order_id=order.order_id,
                channel=order.channel, status=ReturnStatus.AUTHORIZED, outcome=request.outcome,
                lines=tuple(ReturnLine(ln.line_id, skus[ln.line_id], ln.quantity, ln.reason) for ln in request.lines),
                return_to_node=node.node_id, return_to_address=dict(node.address),
                created_at=now, updated_at=now, exchange_lines=request.exchange_lines or (),
                request_key=keyed, request_digest=digest)
            entry = TimelineEntry(at=now, event="ReturnAuthorized", detail={
                "return_id": return_id, "rma_number": ret.rma_number, "outcome": ret.outcome.value,
                "node_id": node.node_id, "lines": [{"line_id": ln.line_id, "quantity": ln.quantity,
                                                    "reason": ln.reason.value} for ln in ret.lines]})
            try:
                self.store.authorize(ret, returns_before=len(order.returns), returning=order.returning,
                                     entry=entry, ledger_version=order.ledger_version)
            except LedgerMoved:
                continue  # another return of the order came first: judge this one again
            return Authorized(return_view(ret))
        raise Conflict(f"returns of order {order_id} keep changing; try again")

    def get(self, return_id: str, principal: Principal) -> dict[str, Any]:
        order, ret = find_return(self.orders, return_id)
        if order is None or ret is None or not _may_see(principal, order, ret):
            raise NotFound(f"return {return_id} does not exist")  # another's does not exist for you
        return return_view(ret)

    def listing(self, principal: Principal, status: ReturnStatus, *, limit: int, token: str | None
                ) -> tuple[list[dict[str, Any]], str | None]:
        """The returns in ``status`` coming to the calling node, oldest first."""
        return self.store.listing(principal.principal_id, status.value, limit=limit, token=token)

    def settings(self, channel: str, principal: Principal) -> ChannelSettings:
        if principal.role == "channel" and principal.principal_id != channel:
            raise NotFound(f"channel {channel} does not exist")  # another channel's is not yours to read
        return self.store.settings(channel)

    def put_settings(self, channel: str, return_window_days: int) -> ChannelSettings:
        settings = ChannelSettings(channel=channel, return_window_days=return_window_days, updated_at=self.clock())
        self.store.put_settings(settings)
        return settings

    def _order(self, order_id: str, principal: Principal) -> Order:
        order = self.orders.get(order_id)
        if order is None or (principal.role == "channel" and order.channel != principal.principal_id):
            raise NotFound(f"order {order_id} does not exist")
        return order


def _may_see(principal: Principal, order: Order, ret: Return) -> bool:
    if principal.role == "agent":
        return True
    if principal.role == "channel":
        return order.channel == principal.principal_id
    if principal.role == "node":
        return ret.return_to_node == principal.principal_id
    return False
