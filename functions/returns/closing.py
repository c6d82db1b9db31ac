"""An agent ends a return (API.md "Returns", ``POST /returns/{id}/reject`` and ``/close``). No
AWS here.

- **Reject**: the return is refused before anything of it arrived (``AUTHORIZED`` only; once
  goods are in, the return is closed instead, and what arrived stays refunded).
- **Close**: the return ends with what arrived (``AUTHORIZED`` or ``PARTIALLY_RECEIVED``: the
  customer never sent the rest). Receipts already credited stay credited.

Either way the units that did not arrive go back to the order's return ledger, so the lines
may be returned again within their window; the return and the ledger are written together,
each on condition of its version as read (a receipt, another agent, an authorisation racing
it: read again, judge again). The same decision again answers the return as it is; the other
decision, or a return that is no longer open, is a 409.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from functions.core.errors import Conflict, NotFound
from functions.core.events import utc_now
from functions.core.orders import Order, TimelineEntry
from functions.core.principal import Principal
from functions.core.returns import Return, ReturnStatus, return_view
from functions.returns.lookup import find_return
from functions.returns.ports import LedgerMoved, OrderReader, ReturnMoved, ReturnStore

#: Tries of a decision that loses races before the caller is told to try again.
ATTEMPTS = 8

#: Per decision: the status it ends in, the statuses it may end, its timeline event.
DECISIONS: dict[str, tuple[ReturnStatus, frozenset[ReturnStatus], str]] = {
    "reject": (ReturnStatus.REJECTED, frozenset({ReturnStatus.AUTHORIZED}), "ReturnRejected"),
    "close": (ReturnStatus.CLOSED, frozenset({ReturnStatus.AUTHORIZED, ReturnStatus.PARTIALLY_RECEIVED}),
              "ReturnClosed"),
}


def given_back(ret: Return) -> dict[str, int]:
    """The units per line that were authorised and did not arrive."""
    out = {ln.line_id: ln.quantity - ret.received.get(ln.line_id, 0) for ln in ret.lines}
    return {line: units for line, units in out.items() if units > 0}


def ledger_after(order: Order, back: dict[str, int]) -> dict[str, int]:
    lines = dict(order.returning)
    for line, units in back.items():
        lines[line] = max(0, lines.get(line, 0) - units)
    return lines


@dataclass
class ClosingService:
    orders: OrderReader
    store: ReturnStore
    clock: Callable[[], str] = utc_now

    def decide(self, return_id: str, principal: Principal, decision: str, reason: str) -> dict[str, Any]:
        target, allowed, event = DECISIONS[decision]
        for _ in range(ATTEMPTS):
            order, ret = self._read(return_id, principal)
            if ret.status == target:
                return return_view(ret)  # decided already: nothing changes
            if ret.status not in allowed:
                hint = "; close it instead: what arrived stays refunded" if (
                    decision == "reject" and ret.status == ReturnStatus.PARTIALLY_RECEIVED) else ""
                raise Conflict(f"return {return_id} is {ret.status.value}: it cannot be {target.value.lower()}"
                               f"{hint}")
            now = self.clock()
            back = given_back(ret)
            after = replace(ret, status=target, version=ret.version + 1, updated_at=now)
            entry = TimelineEntry(at=now, event=event, detail={
                "return_id": return_id, "rma_number": ret.rma_number, "reason": reason,
                "by": principal.principal_id, "given_back": [{"line_id": line, "quantity": units}
                                                             for line, units in sorted(back.items())]})
            try:
                self.store.end(before=ret, after=after, ledger_version=order.ledger_version,
                               returning=ledger_after(order, back), entry=entry)
            except (ReturnMoved, LedgerMoved):
                continue  # a receipt, another agent or an authorisation came first: judge again
            return return_view(after)
        raise Conflict(f"return {return_id} keeps changing; try again")

    def _read(self, return_id: str, principal: Principal) -> tuple[Order, Return]:
        order, ret = find_return(self.orders, return_id)
        if order is None or ret is None or principal.role != "agent":
            raise NotFound(f"return {return_id} does not exist")
        return order, ret
