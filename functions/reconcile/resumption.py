"""Which step an order is owed, and the reconciler that runs it. No AWS here.

An order left in a non-final status (a lost workflow start, a workflow that ran out of retries,
a dispatched shipment whose invoicing never ran, a payment never captured, a completion never
written, a notice claimed and never sent) is resumed through the same idempotent steps the
workflows use — never by writing its state directly:

- CAPTURED or BACKORDERED: start ``order_fulfillment`` again (a new execution: Reserve's
  condition lets a new execution take an order no execution moved on);
- a DISPATCHED shipment with no invoice, or with an invoice not settled (captured or booked on
  account), and not on finance's review list: start ``shipment_invoicing`` for it (the task
  issues, captures, and completes the order when that was all it waited for);
- SHIPPED with every invoice settled but not COMPLETED: ``shipment_invoicing`` of its last
  shipment (whose run finds everything done and writes the completion);
- a notice whose claim has a channel SENDING past its lease, or that was never claimed though
  its trigger happened (``OrderAllocated`` → confirmation, a dispatch, a cancel): notify again
  (its claim sends it at most once more).

Anything else is waiting legitimately (a node's dispatch, finance's review): the reconciler
postpones its next check, the longer the older the order is (from the threshold to a day).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from functions.core.events import after, instant, utc_now
from functions.core.ids import new_id
from functions.core.invoices import SETTLED
from functions.core.orders import Order, OrderStatus, ShipmentStatus

from .ports import Due, NoticeSender, OpenOrders, OrderReader, WorkflowStarter

FINAL = frozenset({OrderStatus.COMPLETED, OrderStatus.CANCELLED})
#: The longest an open order waits between two checks.
MAX_BACKOFF_SECONDS = 24 * 3600
#: Orders looked at per shard and run: a run stays well inside the function's 15 s.
PER_SHARD = 25

START_FULFILLMENT, START_INVOICING, SEND_NOTICE = "start_fulfillment", "start_invoicing", "send_notice"


@dataclass(frozen=True)
class Step:
    """One idempotent step owed to an order."""

    action: str  # START_FULFILLMENT | START_INVOICING | SEND_NOTICE
    reason: str
    shipment_id: str | None = None
    kind: str | None = None  # the notice's kind
    ref: str | None = None  # what the notice is about beyond the order (shipment, return, credit note)

    def view(self) -> dict[str, Any]:
        return {k: v for k, v in {"action": self.action, "reason": self.reason, "shipment_id": self.shipment_id,
                                  "notice": self.kind, "ref": self.ref}.items() if v is not None}


@dataclass(frozen=True)
class Decision:
    steps: tuple[Step, ...] = ()
    #: Why nothing is owed although the order is open (None when steps are owed or it is final).
    waiting: str | None = None
    final: bool = False


def _shipment(ref: str | None) -> str | None:
    return ref if ref and ref.startswith("shp_") else None


def _notices_owed(order: Order, now: str) -> list[Step]:
    steps: list[Step] = []
    claimed = {(n.kind, n.ref) for n in order.notices}
    for n in order.notices:
        if n.superseded:
            continue
        lapsed = bool(n.lease_until and n.lease_until < now)
        stuck = [c for c, status in sorted(n.channels.items()) if status == "SENDING" and lapsed]
        withdrawn = [c for c, status in sorted(n.channels.items()) if status == "WITHDRAWN"]
        if stuck:
            steps.append(Step(SEND_NOTICE, f"{n.kind} claimed but not sent ({', '.join(stuck)}) past its lease",
                              shipment_id=_shipment(n.ref), kind=n.kind, ref=n.ref))
        elif withdrawn:
            steps.append(Step(SEND_NOTICE, f"{n.kind} not sent ({', '.join(withdrawn)}): its send failed",
                              shipment_id=_shipment(n.ref), kind=n.kind, ref=n.ref))
    happened = {e.event for e in order.timeline}
    if "OrderAllocated" in happened and ("order_confirmed", None) not in claimed \
            and order.status != OrderStatus.CANCELLED:
        steps.append(Step(SEND_NOTICE, "order allocated but never confirmed to the customer", kind="order_confirmed"))
    for s in order.shipments:
        if s.status == ShipmentStatus.DISPATCHED and ("shipment_dispatched", s.shipment_id) not in claimed:
            steps.append(Step(SEND_NOTICE, f"{s.shipment_id} dispatched but the customer was never told",
                              shipment_id=s.shipment_id, kind="shipment_dispatched", ref=s.shipment_id))
    if order.status == OrderStatus.CANCELLED and ("order_cancelled", None) not in claimed:
        steps.append(Step(SEND_NOTICE, "order cancelled but the customer was never told", kind="order_cancelled"))
    return steps


#: The errors a workflow raises for an AWS brownout (throttles, lost connections, function
#: timeouts, the Lambda service's own errors): an invoicing run flagged for finance with one of
#: these failed only because the cloud did, and is run again — a later successful run resolves
#: the review. Any other reason (an invoice refused, a payment declined) waits for finance.
BROWNOUT_REASONS = frozenset({
    "TransientError", "SendUnconfirmed", "Sandbox.Timedout", "States.Timeout", "Lambda.Unknown",
    "Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException"})


def _invoicing_owed(order: Order) -> tuple[list[Step], list[str]]:
    steps: list[Step] = []
    waiting: list[str] = []
    reviewed = {f.get("shipment_id") for f in order.finance_reviews if f.get("reason") not in BROWNOUT_REASONS}
    dispatched = [s for s in order.shipments if s.status == ShipmentStatus.DISPATCHED]
    for s in dispatched:
        invoice = next((i for i in order.invoices if i.shipment_id == s.shipment_id), None)
        if s.shipment_id in reviewed:
            waiting.append(f"finance to review {s.shipment_id}")
        elif invoice is None:
            steps.append(Step(START_INVOICING, f"{s.shipment_id} dispatched but not invoiced",
                              shipment_id=s.shipment_id))
        elif invoice.payment_status not in SETTLED:
            steps.append(Step(START_INVOICING, f"{invoice.invoice_number} issued but its payment not settled",
                              shipment_id=s.shipment_id))
    if not steps and not waiting and order.status == OrderStatus.SHIPPED and dispatched:
        # every shipment dispatched, invoiced and settled: only the completion is missing
        steps.append(Step(START_INVOICING, "every invoice settled but the order not completed",
                          shipment_id=dispatched[-1].shipment_id))
    return steps, waiting


def owed(order: Order, now: str) -> Decision:
    """The steps ``order`` (as the order reader reads it) is owed at ``now``."""
    notices = _notices_owed(order, now)
    if order.status in FINAL:
        return Decision(steps=tuple(notices), final=True)
    if order.status in (OrderStatus.CAPTURED, OrderStatus.BACKORDERED):
        why = ("captured but its workflow never moved it on" if order.status == OrderStatus.CAPTURED
               else "backordered: planned again in case its stock has come")
        return Decision(steps=(Step(START_FULFILLMENT, why), *notices))
    invoicing, waiting = _invoicing_owed(order)
    waiting += [f"{s.node_id} to dispatch {s.shipment_id}" for s in order.shipments
                if s.status == ShipmentStatus.REQUESTED]
    steps = (*invoicing, *notices)
    if steps:
        return Decision(steps=steps)
    return Decision(waiting="waiting for " + "; ".join(waiting) if waiting else f"{order.status.value}: nothing owed")


def _seconds_between(earlier: str, later: str) -> float:
    return (instant(later) - instant(earlier)).total_seconds()


@dataclass(frozen=True)
class Resumed:
    order_id: str
    status: str
    decision: Decision
    #: What each step started (an execution name, "notice requested").
    started: tuple[dict[str, Any], ...] = ()


@dataclass
class Reconciler:
    orders: OrderReader
    open_orders: OpenOrders
    fulfillment: WorkflowStarter
    invoicing: WorkflowStarter
    notices: NoticeSender
    #: Seconds after capture (and at least between checks) an open order is due.
    after_seconds: int = 900
    clock: Callable[[], str] = utc_now
    log: Callable[[str, dict[str, Any]], None] = field(default=lambda message, extra: None)

    def resume(self, order_id: str) -> Resumed | None:
        """Run the steps the order is owed now (an operator's resume); None: no such order."""
        order = self.orders.get(order_id)
        if order is None:
            return None
        decision = owed(order, self.clock())
        return Resumed(order_id, order.status.value, decision, tuple(self._run(order, decision)))

    def run(self) -> dict[str, Any]:
        """One scheduled run: every shard's due orders resumed, then postponed."""
        now = self.clock()
        report: dict[str, Any] = {"at": now, "due": 0, "resumed": 0, "waiting": 0, "closed": 0, "failed": 0,
                                  "steps": 0}
        for shard in self.open_orders.shards():
            for due in self.open_orders.due(shard, now, PER_SHARD):
                report["due"] += 1
                try:
                    outcome = self._reconcile(due, now)
                except Exception as exc:  # one order's failure must not keep the others waiting
                    self.log("reconciling an order failed", {"order_id": due.order_id, "error": repr(exc)})
                    report["failed"] += 1
                    continue
                report[outcome[0]] += 1
                report["steps"] += outcome[1]
        return report

    def _reconcile(self, due: Due, now: str) -> tuple[str, int]:
        order = self.orders.get(due.order_id)
        if order is None:
            return "waiting", 0  # an index entry without its order: a capture commits both or neither
        decision = owed(order, now)
        if decision.final:  # not on the happy path: every transition into a final status removes it
            self._run(order, decision)
            self.open_orders.close(due)
            return "closed", len(decision.steps)
        started = self._run(order, decision)
        # backoff: the next check after as long again as the order is old (threshold .. a day)
        wait = min(max(self.after_seconds, _seconds_between(order.created_at, now)), MAX_BACKOFF_SECONDS)
        self.open_orders.postpone(due, after(now, wait))
        self.log("order reconciled", {"order_id": order.order_id, "status": order.status.value,
                                      "steps": [s.view() for s in decision.steps], "waiting": decision.waiting})
        return ("resumed" if started else "waiting"), len(started)

    def _run(self, order: Order, decision: Decision) -> list[dict[str, Any]]:
        started: list[dict[str, Any]] = []
        for step in decision.steps:
            if step.action == START_FULFILLMENT:
                name = f"{order.order_id}-resume-{new_id('x')[-10:]}"
                self.fulfillment.start(name, {"order_id": order.order_id})
                started.append({**step.view(), "execution_name": name})
            elif step.action == START_INVOICING and step.shipment_id:
                name = f"{order.order_id}-inv{step.shipment_id.rsplit('-', 1)[-1]}-resume-{new_id('x')[-8:]}"
                self.invoicing.start(name, {"order_id": order.order_id, "shipment_id": step.shipment_id})
                started.append({**step.view(), "execution_name": name})
            elif step.action == SEND_NOTICE and step.kind:
                self.notices.send(order.order_id, step.kind, step.ref)
                started.append(step.view())
        return started
