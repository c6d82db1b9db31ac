"""The order journeys the fault matrix runs, each driven through the public API as its users
would (a webshop that retries with its Idempotency-Key, a warehouse that repeats a dispatch, an
agent), and what must hold at the end of each whatever failed on the way.

Every run has its own SKU, customer email and Idempotency-Key: a fault is scoped to the calls
that carry one of them (``localcloud/faults.py`` learns the order id from them), so many runs
share one local stack, each meeting only its own fault.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from localcloud.client import KEYS, Api, ApiError, ok
from tests import samples

FINAL = {"COMPLETED", "CANCELLED"}


class Stuck(AssertionError):
    """The order did not reach the status the journey waits for in time."""


@dataclass
class Run:
    """One journey's identity: what its fault is scoped to, and what it placed."""

    scenario: str
    token: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    order_id: str | None = None
    dispatched: int = 0
    #: how often the run's fault fired
    fired: int = 0
    #: the stock was set (once: a journey's steps run again after a resume)
    stocked: bool = False
    #: what the journey expects the order to end as
    expected: str = "COMPLETED"

    @property
    def sku(self) -> str:
        return f"FLT-{self.token}"

    @property
    def email(self) -> str:
        return f"f{self.token}@example.com"

    @property
    def idempotency_key(self) -> str:
        return f"idem-flt-{self.token}"

    @property
    def channel_order_id(self) -> str:
        return f"WEB-FLT-{self.token}"

    @property
    def match(self) -> list[str]:
        return [self.sku, self.email, self.idempotency_key]

    def body(self) -> dict[str, Any]:
        return samples.order_body(
            sku=self.sku, quantity=1, unit_price="10.00", channel_order_id=self.channel_order_id,
            customer={"customer_id": f"C-{self.token}", "email": self.email, "phone": "+4915100000000",
                      "locale": "en-GB"},
            payment=samples.card("17.73", f"auth_{self.token}"))


def _status(api: Api, order_id: str) -> str:
    return str(api.order(order_id)["status"])


def wait_for(api: Api, run: Run, statuses: set[str], timeout: float) -> dict[str, Any]:
    """Poll the order as a webshop does until it is in one of ``statuses``."""
    assert run.order_id
    deadline = time.monotonic() + timeout
    while True:
        try:
            order = api.order(run.order_id)
        except ApiError:
            order = {"status": "UNREADABLE"}
        if order["status"] in statuses:
            return order
        if time.monotonic() > deadline:
            raise Stuck(f"{run.scenario} {run.order_id}: {order['status']}, waited for {sorted(statuses)}")
        time.sleep(0.25)


def place(api: Api, run: Run, *, tries: int = 3) -> None:
    """The webshop places the order, and places it again (same key) while the OMS fails."""
    for attempt in range(tries):
        try:
            run.order_id = api.place(run.body(), KEYS["webshop"], run.idempotency_key)["order_id"]
            return
        except ApiError:
            if attempt == tries - 1:
                raise
            time.sleep(1)


def dispatch_all(api: Api, run: Run) -> None:
    """The warehouse confirms each requested shipment (repeating a dispatch it is unsure of)."""
    assert run.order_id
    order = api.order(run.order_id)
    for shipment in order["shipments"]:
        if shipment["status"] != "REQUESTED":
            continue
        key = KEYS["dc"] if shipment["node_id"] == "DC-BERLIN" else KEYS["store"]
        answer = api.dispatch(shipment["shipment_id"], key, f"TRK{run.token}")
        ok(answer, f"dispatch {shipment['shipment_id']}")
        run.dispatched += 1


# -- the journeys: each is a list of steps, every one repeatable (a step that met a fault is run again) --

def stock(api: Api, run: Run) -> None:
    """The journey's SKU stocked 5 at DC-BERLIN, once."""
    if not run.stocked:
        api.put_stock(run.sku, "DC-BERLIN", 5)
        run.stocked = True


def happy_steps(api: Api, run: Run, wait: float) -> None:
    """Capture, plan, reserve, confirm, dispatch, invoice, capture payment, complete."""
    stock(api, run)
    if run.order_id is None:
        place(api, run)
    order = wait_for(api, run, {"IN_FULFILLMENT", *FINAL, "SHIPPED"}, wait)
    if order["status"] == "IN_FULFILLMENT":
        dispatch_all(api, run)
    wait_for(api, run, {"COMPLETED"}, wait)


def cancel_steps(api: Api, run: Run, wait: float) -> None:
    """Capture, plan, reserve, then the customer cancels: every reservation is given back."""
    run.expected = "CANCELLED"
    stock(api, run)
    if run.order_id is None:
        place(api, run)
    wait_for(api, run, {"IN_FULFILLMENT", "CANCELLED"}, wait)
    assert run.order_id
    deadline = time.monotonic() + wait  # the customer cancels once they have the confirmation
    while not notices_sent(api, run)["order_confirmed:emails"]:
        if time.monotonic() > deadline:
            raise Stuck(f"{run.scenario} {run.order_id}: no order confirmation was sent")
        time.sleep(0.25)
    answer = api.cancel(run.order_id, KEYS["webshop"])
    if answer.status_code != 200:
        raise ApiError(f"cancel {run.order_id}: {answer.status_code} {answer.text[:200]}")
    wait_for(api, run, {"CANCELLED"}, wait)


def backorder_steps(api: Api, run: Run, wait: float) -> None:
    """Capture with no stock anywhere: backordered; then the stock arrives (PUT), and the
    waiting order is allocated, confirmed, dispatched, invoiced, paid and completed."""
    if run.order_id is None:
        place(api, run)
    order = wait_for(api, run, {"BACKORDERED", "IN_FULFILLMENT", *FINAL, "SHIPPED"}, wait)
    if order["status"] == "BACKORDERED":
        # the stock comes once the customer has been told of the backorder (or after a while:
        # then the notice no longer applies, and is skipped, not sent)
        deadline = time.monotonic() + wait
        while not notices_sent(api, run)["order_backordered:emails"] and time.monotonic() < deadline:
            time.sleep(0.25)
        stock(api, run)
    order = wait_for(api, run, {"IN_FULFILLMENT", *FINAL, "SHIPPED"}, wait)
    if order["status"] == "IN_FULFILLMENT":
        dispatch_all(api, run)
    wait_for(api, run, {"COMPLETED"}, wait)


#: The journeys, in the order their calls become fault points: a call is failed in the first
#: journey that makes it (the backorder's covers capture to completion, with the restock).
SCENARIOS = {"backorder": backorder_steps, "cancel": cancel_steps, "happy": happy_steps}


# -- what must hold at the end ---------------------------------------------------------------------

def outcome(api: Api, run: Run, stock_on_hand: int = 5) -> list[str]:
    """What is wrong with the run's end state (an empty list: nothing). One order for the
    channel order id, in its expected final status, one reservation per line (the stock
    record's reserved back to 0, on hand less what shipped), one invoice per dispatched
    shipment, one payment capture for a completed order, none for a cancelled one."""
    problems: list[str] = []
    listing = api.get("/orders", KEYS["webshop"], customer_id=f"C-{run.token}")["orders"]
    if len(listing) != 1:
        problems.append(f"{len(listing)} orders for {run.channel_order_id}")
    if run.order_id is None:
        return [*problems, "no order was placed"]
    order = api.order(run.order_id)
    if order["status"] != run.expected:
        problems.append(f"status {order['status']}, expected {run.expected}")
    events = Counter(e["event"] for e in order["timeline"])
    shipped = [s for s in order["shipments"] if s["status"] == "DISPATCHED"]
    invoices = [i for i in order.get("invoices", []) if i["kind"] == "invoice"]
    if run.expected == "COMPLETED":
        if len(invoices) != len(shipped) or not shipped:
            problems.append(f"{len(invoices)} invoices for {len(shipped)} dispatched shipments")
        if events["PaymentCaptured"] != 1:
            problems.append(f"{events['PaymentCaptured']} payment captures")
    elif invoices or events["PaymentCaptured"]:
        problems.append(f"a cancelled order has {len(invoices)} invoices, {events['PaymentCaptured']} captures")
    stock = api.get(f"/inventory/{run.sku}", KEYS["agent"], "/inventory/{sku}")
    level = {n["node_id"]: n for n in stock["nodes"]}["DC-BERLIN"]
    units = sum(ln["quantity"] for s in shipped for ln in s["lines"])
    if level["reserved"] != 0 or level["on_hand"] != stock_on_hand - units:
        problems.append(f"stock not conserved: on hand {level['on_hand']}, reserved {level['reserved']}, "
                        f"{units} shipped of {stock_on_hand}")
    return problems


def notices_skipped(api: Api, run: Run) -> set[str]:
    """The notices the order's timeline says were skipped (superseded: no longer applicable)."""
    assert run.order_id
    return {e["detail"].get("kind", "") for e in api.order(run.order_id)["timeline"] if e["event"] == "NoticeSkipped"}


def notices_sent(api: Api, run: Run) -> Counter[str]:
    """How often each notice of the order reached SES or SNS (``/_local/outbox``)."""
    assert run.order_id
    box = ok(api.http.get("/_local/outbox", params={"order_id": run.order_id}), "outbox")
    return Counter(f"{m.get('kind')}:{channel}" for channel in ("emails", "sms") for m in box.get(channel, []))
