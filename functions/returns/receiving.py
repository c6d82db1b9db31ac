"""Receiving a return at its node (API.md "Returns", ``POST /returns/{id}/receive``). No AWS here.

A receipt is what one delivery held: per line, units and their condition. Resellable units go
back to the receiving node's stock in the receipt's own write (the stock write carries the
restock mark, so the SKU's waiting backorders are tried again, as after a count); damaged
ones are recorded and not restocked. Receipts may be partial; the return is
``PARTIALLY_RECEIVED`` until every authorised unit has arrived, then ``RECEIVED``.

- The same ``receipt_id`` again changes nothing and answers the return as it is.
- More than authorised (with what earlier receipts brought) is a 422 naming the field.
- Only the node the return is sent to receives it (any other caller: 404, as for a return it
  may not see); a return that is no longer open (rejected, closed, received) is a 409.
- The write is conditional on the return's version as read: two receipts at once are judged
  one after the other, so together they never exceed what was authorised.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from functions.core.errors import Conflict, NotFound, ValidationFailed
from functions.core.events import utc_now
from functions.core.orders import TimelineEntry
from functions.core.principal import Principal
from functions.core.returns import (
    OPEN_RETURN,
    Receipt,
    ReceiptCondition,
    ReceivedLine,
    Return,
    ReturnStatus,
    return_view,
)
from functions.returns.lookup import find_return

from .ports import OrderReader, ReturnMoved, ReturnStore

#: Reads and writes of one receipt before it gives up (409): each lost race is another receipt
#: (or an agent's decision) on the same return in between.
ATTEMPTS = 8
#: SKUs one receipt may restock: each is a stock write in the receipt's transaction (DynamoDB
#: allows 100 actions; one is the return). A larger delivery is received in several receipts.
MAX_RESTOCKED_SKUS = 99


@dataclass(frozen=True)
class ReceiptRequest:
    receipt_id: str
    lines: tuple[ReceivedLine, ...]


def judge(ret: Return, request: ReceiptRequest) -> dict[str, int]:
    """The units received per line once this receipt is in, or ValidationFailed naming the field."""
    authorised = {ln.line_id: ln.quantity for ln in ret.lines}
    received = dict(ret.received)
    for i, ln in enumerate(request.lines):
        if ln.line_id not in authorised:
            raise ValidationFailed(f"lines[{i}].line_id", f"return {ret.return_id} has no line {ln.line_id!r}")
        received[ln.line_id] = received.get(ln.line_id, 0) + ln.quantity
        if received[ln.line_id] > authorised[ln.line_id]:
            before = ret.received.get(ln.line_id, 0)
            raise ValidationFailed(f"lines[{i}].quantity", (
                f"line {ln.line_id}: {authorised[ln.line_id]} authorised, {before} received before; "
                f"this receipt brings {received[ln.line_id] - before}"))
    return received


@dataclass
class ReceivingService:
    orders: OrderReader
    store: ReturnStore
    clock: Callable[[], str] = utc_now

    def receive(self, return_id: str, principal: Principal, request: ReceiptRequest) -> dict[str, Any]:
        for _ in range(ATTEMPTS):
            ret = self._return(return_id, principal)
            if any(x.receipt_id == request.receipt_id for x in ret.receipts):
                return return_view(ret)  # this delivery was received already: nothing changes
            if ret.status not in OPEN_RETURN:
                raise Conflict(f"return {return_id} is {ret.status.value}: nothing more is received for it")
            received = judge(ret, request)
            skus = {ln.line_id: ln.sku for ln in ret.lines}
            restock: dict[str, int] = {}
            for ln in request.lines:
                if ln.condition == ReceiptCondition.RESELLABLE:
                    restock[skus[ln.line_id]] = restock.get(skus[ln.line_id], 0) + ln.quantity
            if len(restock) > MAX_RESTOCKED_SKUS:
                raise ValidationFailed("lines", (
                    f"one receipt restocks at most {MAX_RESTOCKED_SKUS} SKUs ({len(restock)} here): "
                    "receive the delivery in several receipts"))
            now = self.clock()
            receipt = Receipt(request.receipt_id, now, request.lines)
            complete = all(received.get(ln.line_id, 0) >= ln.quantity for ln in ret.lines)
            after = replace(ret, status=ReturnStatus.RECEIVED if complete else ReturnStatus.PARTIALLY_RECEIVED,
                            received=received, receipts=(*ret.receipts, receipt), updated_at=now,
                            version=ret.version + 1)
            entry = TimelineEntry(at=now, event="ReturnReceived", detail={
                "return_id": return_id, "receipt_id": request.receipt_id, "node_id": ret.return_to_node,
                "lines": [{"line_id": ln.line_id, "quantity": ln.quantity, "condition": ln.condition.value}
                          for ln in request.lines],
                "restocked": sum(restock.values()), "status": after.status.value})
            try:
                self.store.receive(before=ret, after=after, restock=restock, entry=entry)
            except ReturnMoved:
                continue  # another receipt (or an agent) came first: judge this one again
            return return_view(after)
        raise Conflict(f"return {return_id} keeps changing; try again")

    def _return(self, return_id: str, principal: Principal) -> Return:
        _, ret = find_return(self.orders, return_id)
        if ret is None or principal.role != "node" or principal.principal_id != ret.return_to_node:
            raise NotFound(f"return {return_id} does not exist")  # not sent to you: not yours to receive
        return ret
