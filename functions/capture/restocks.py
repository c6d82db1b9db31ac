"""Stock rose for a SKU: its backordered orders are allocated, oldest first, each once. No AWS here.

The capture stream consumer calls this for a stock record written with the restock mark (PUT
inventory). Each waiting order's workflow is run again to its end (``OrderWorkflow.run_order``)
before the next one is tried, so an older order reserves the units before a younger one can
(runs started side by side would race, and the younger could win). Exactly once is the
workflow's: Reserve moves the order BACKORDERED -> IN_FULFILLMENT only with the status
condition, so two restocks running the same order at once allocate it once; the loser ends at
NotAccepted. A run that still finds no plan leaves the order BACKORDERED and writes nothing
(Backorder's header condition refuses a second backorder), so it is neither told twice nor
listed twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from functions.core.backorders import Waiting, next_to_try
from functions.core.orders import OrderStatus

from .ports import OrderWorkflow, WaitingOrders, WorkflowRun

#: A run is not started with less time than this left in the invocation (a run takes well under
#: a second; the synchronous start waits at most 10 s).
RESERVE_S = 11.0


class RestockUnfinished(Exception):
    """The invocation ran short of time with orders left to try: the record comes again (what
    was allocated is no longer waiting)."""


@dataclass(frozen=True)
class Outcome:
    order_id: str
    #: ``allocated``, ``gone`` (cancelled or carried on elsewhere: waits no more), ``waiting``
    #: (still no plan), ``failed`` (the run failed: it waits, for the next restock or the reconciler)
    result: str


def outcome_of(run: WorkflowRun) -> str:
    """What a run of the order's workflow did with a backordered order, read from its output."""
    if run.status != "SUCCEEDED":
        return "failed"
    out = run.output
    reserve = out.get("reserve") or {}
    if reserve.get("reserved"):
        return "allocated"
    plan = out.get("plan") or {}
    if plan.get("plannable") is False:
        return "gone"
    if reserve and reserve.get("status") != OrderStatus.BACKORDERED.value:
        return "gone"  # another execution reserved it, or it was cancelled meanwhile
    return "waiting"


@dataclass
class RestockService:
    waiting: WaitingOrders
    workflow: OrderWorkflow
    #: seconds left in the invocation
    time_left: Callable[[], float] = field(default=lambda: float("inf"))

    def on_restocked(self, sku: str, node_id: str, mark: str, rose: bool) -> list[Outcome]:
        """Try the SKU's waiting orders, oldest first, while its available units may satisfy one
        (``core.backorders.next_to_try``), then clear the restock's mark. Raises
        RestockUnfinished (the mark stays; the record comes again) when time runs short."""
        outcomes: list[Outcome] = []
        if rose:
            tried: set[str] = set()
            while True:
                available, waiting = self.waiting.of_sku(sku)
                candidate = next_to_try(waiting, available, tried)
                if candidate is None:
                    break
                if self.time_left() < RESERVE_S:
                    raise RestockUnfinished(f"{sku}: {len(outcomes)} orders tried, more waiting")
                tried.add(candidate.order_id)
                outcomes.append(self._try(candidate))
        self.waiting.restock_seen(sku, node_id, mark)
        return outcomes

    def _try(self, waiting: Waiting) -> Outcome:
        result = outcome_of(self.workflow.run_order(waiting.order_id))
        if result in ("allocated", "gone"):
            self.waiting.forget(waiting)
        return Outcome(waiting.order_id, result)
