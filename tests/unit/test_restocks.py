"""A restock allocates a SKU's waiting backorders oldest first, each once (capture/restocks.py,
core/backorders.py), with in-memory fakes: the workflow is a fake that allocates an order when
the stock it needs is there."""

from __future__ import annotations

from typing import Any

import pytest

from functions.capture.restocks import RestockService, RestockUnfinished, outcome_of
from functions.core.backorders import Waiting, next_to_try, oldest_first, wanted_per_sku
from functions.core.ports import WorkflowRun


def waiting(order_id: str, at: str, quantity: int, skus: tuple[str, ...] = ("MUG",)) -> Waiting:
    return Waiting(order_id=order_id, backordered_at=at, sku="MUG", quantity=quantity, skus=skus)


def test_wanted_units_are_summed_per_sku() -> None:
    assert wanted_per_sku([("MUG", 2), ("CUP", 1), ("MUG", 3)]) == {"CUP": 1, "MUG": 5}


def test_the_oldest_waiting_order_that_the_units_satisfy_is_next() -> None:
    older, younger, youngest = waiting("o1", "2026-11-01T10:00", 5), waiting("o2", "2026-11-02T10:00", 1), \
        waiting("o3", "2026-11-03T10:00", 1)
    assert oldest_first([youngest, older, younger]) == [older, younger, youngest]
    # enough for the oldest: it goes first, whatever the order read
    assert next_to_try([youngest, younger, older], 5, set()) == older
    # too few for the oldest: the next that fits (first fit in age order), never a younger first
    assert next_to_try([older, youngest, younger], 1, set()) == younger
    assert next_to_try([older, younger, youngest], 1, {"o2"}) == youngest
    assert next_to_try([older], 4, set()) is None and next_to_try([], 9, set()) is None


class FakeWaiting:
    def __init__(self, available: int, orders: list[Waiting]) -> None:
        self.available, self.orders = available, list(orders)
        self.seen: list[tuple[str, str, str]] = []

    def of_sku(self, sku: str) -> tuple[int, list[Waiting]]:
        return self.available, list(self.orders)

    def forget(self, w: Waiting) -> None:
        self.orders = [o for o in self.orders if o.order_id != w.order_id]

    def restock_seen(self, sku: str, node_id: str, mark: str) -> None:
        self.seen.append((sku, node_id, mark))


class FakeWorkflow:
    """Allocates an order when its units are available (Reserve), else Backorder is refused."""

    def __init__(self, store: FakeWaiting, fail: set[str] | None = None, cancelled: set[str] | None = None,
                 short: set[str] | None = None) -> None:
        self.store, self.fail, self.cancelled = store, fail or set(), cancelled or set()
        self.short = short or set()  # short of another SKU: no plan whatever this one has
        self.runs: list[str] = []

    def start_order(self, order_id: str) -> str:
        raise AssertionError("a restock runs each order to its end")

    def run_order(self, order_id: str) -> WorkflowRun:
        self.runs.append(order_id)
        if order_id in self.fail:
            return WorkflowRun(order_id, "FAILED", error="RacesLost")
        if order_id in self.cancelled:
            return WorkflowRun(order_id, "SUCCEEDED", {"plan": {"plannable": False, "planned": False}})
        (w,) = [o for o in self.store.orders if o.order_id == order_id]
        if w.quantity <= self.store.available and order_id not in self.short:
            self.store.available -= w.quantity
            return WorkflowRun(order_id, "SUCCEEDED", {"plan": {"planned": True, "plannable": True},
                                                       "reserve": {"reserved": True, "status": "IN_FULFILLMENT"}})
        return WorkflowRun(order_id, "SUCCEEDED", {"plan": {"planned": False, "plannable": True},
                                                   "backorder": {"backordered": False}})


def service(store: FakeWaiting, workflow: FakeWorkflow, time_left: Any = None) -> RestockService:
    return RestockService(waiting=store, workflow=workflow, time_left=time_left or (lambda: 60.0))


def test_stock_for_one_allocates_the_older_and_the_younger_waits_for_more() -> None:
    # Given two orders waiting for 1 MUG each, and 1 MUG arrives
    store = FakeWaiting(1, [waiting("young", "2026-11-02", 1), waiting("old", "2026-11-01", 1)])
    workflow = FakeWorkflow(store)
    # When the restock is handled
    outcomes = service(store, workflow).on_restocked("MUG", "DC-BERLIN", "t1", rose=True)
    # Then the older is allocated and no longer waits; the younger was not even run
    assert [(o.order_id, o.result) for o in outcomes] == [("old", "allocated")]
    assert workflow.runs == ["old"] and [o.order_id for o in store.orders] == ["young"]
    assert store.seen == [("MUG", "DC-BERLIN", "t1")]
    # When more stock comes, the younger is allocated
    store.available = 1
    assert [o.result for o in service(store, workflow).on_restocked("MUG", "DC-BERLIN", "t2", True)] == ["allocated"]
    assert store.orders == []


def test_an_order_still_short_stays_waiting_and_the_next_is_tried_once() -> None:
    # Given an old order short of another SKU (its run still finds no plan), a failing run, a
    # cancelled order and a young one that fits
    store = FakeWaiting(3, [waiting("short", "1", 1), waiting("flaky", "2", 1), waiting("gone", "3", 1),
                            waiting("fits", "4", 1)])
    workflow = FakeWorkflow(store, fail={"flaky"}, cancelled={"gone"}, short={"short"})
    outcomes = service(store, workflow).on_restocked("MUG", "N", "m", True)
    # Then each is run once, oldest first; the short and the failed still wait, the cancelled is forgotten
    assert [(o.order_id, o.result) for o in outcomes] == [
        ("short", "waiting"), ("flaky", "failed"), ("gone", "gone"), ("fits", "allocated")]
    assert [o.order_id for o in store.orders] == ["short", "flaky"]


def test_a_write_that_did_not_raise_the_count_runs_nothing_but_clears_the_mark() -> None:
    store = FakeWaiting(5, [waiting("o1", "1", 1)])
    workflow = FakeWorkflow(store)
    assert service(store, workflow).on_restocked("MUG", "N", "m", rose=False) == []
    assert workflow.runs == [] and store.seen == [("MUG", "N", "m")]


def test_short_of_time_the_record_comes_again_with_its_mark_kept() -> None:
    store = FakeWaiting(5, [waiting("o1", "1", 1), waiting("o2", "2", 1)])
    workflow = FakeWorkflow(store)
    left = iter([60.0, 5.0])
    with pytest.raises(RestockUnfinished):
        service(store, workflow, lambda: next(left)).on_restocked("MUG", "N", "m", True)
    assert workflow.runs == ["o1"] and store.seen == []


@pytest.mark.parametrize(("run", "expected"), [
    (WorkflowRun("x", "SUCCEEDED", {"reserve": {"reserved": True, "status": "IN_FULFILLMENT"}}), "allocated"),
    (WorkflowRun("x", "SUCCEEDED", {"reserve": {"reserved": False, "status": "IN_FULFILLMENT"}}), "gone"),
    (WorkflowRun("x", "SUCCEEDED", {"reserve": {"reserved": False, "status": "CANCELLED"}}), "gone"),
    (WorkflowRun("x", "SUCCEEDED", {"plan": {"plannable": False}}), "gone"),
    (WorkflowRun("x", "SUCCEEDED", {"plan": {"plannable": True, "planned": False}, "backorder": {}}), "waiting"),
    (WorkflowRun("x", "FAILED", error="RacesLost"), "failed"),
    (WorkflowRun("x", "TIMED_OUT"), "failed"),
])
def test_what_a_run_did_is_read_from_its_output(run: WorkflowRun, expected: str) -> None:
    assert outcome_of(run) == expected
