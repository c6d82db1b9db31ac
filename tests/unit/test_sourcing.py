"""Sourcing rules: which node ships which units, and when the customer gets them."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from itertools import combinations

from hypothesis import given, settings
from hypothesis import strategies as st

from functions.allocate.promise import promised_delivery
from functions.core.sourcing import Demand, Node, plan

BERLIN = Node("DC-BERLIN", "DE", 1)
MUNICH = Node("STORE-MUNICH", "DE", 2)
VIENNA = Node("DC-VIENNA", "AT", 1)


def test_one_node_with_everything_wins_over_a_split() -> None:
    demand = [Demand("1", "MUG", 2), Demand("2", "TEA", 1)]
    stock = {("MUG", "DC-BERLIN"): 1, ("TEA", "DC-BERLIN"): 5, ("MUG", "STORE-MUNICH"): 2, ("TEA", "STORE-MUNICH"): 1}
    result = plan(demand, [BERLIN, MUNICH], stock, "DE")
    assert result is not None and result.node_ids == ("STORE-MUNICH",)


def test_ties_go_to_the_destination_country_then_priority() -> None:
    stock = {("MUG", n.node_id): 5 for n in (BERLIN, MUNICH, VIENNA)}
    to_austria = plan([Demand("1", "MUG", 1)], [BERLIN, MUNICH, VIENNA], stock, "AT")
    to_germany = plan([Demand("1", "MUG", 1)], [MUNICH, VIENNA, BERLIN], stock, "DE")
    assert to_austria is not None and to_austria.node_ids == ("DC-VIENNA",)
    assert to_germany is not None and to_germany.node_ids == ("DC-BERLIN",)


def test_a_line_splits_across_nodes_only_when_no_node_has_it_all() -> None:
    stock = {("MUG", "DC-BERLIN"): 3, ("MUG", "STORE-MUNICH"): 4}
    result = plan([Demand("1", "MUG", 5)], [BERLIN, MUNICH], stock, "DE")
    assert result is not None
    assert [(a.node_id, a.quantity) for a in result.allocations] == [("DC-BERLIN", 3), ("STORE-MUNICH", 2)]


def test_not_enough_stock_anywhere_means_no_plan() -> None:
    stock = {("MUG", "DC-BERLIN"): 3, ("MUG", "STORE-MUNICH"): 1}
    assert plan([Demand("1", "MUG", 5)], [BERLIN, MUNICH], stock, "DE") is None
    assert plan([Demand("1", "UNKNOWN-SKU", 1)], [BERLIN, MUNICH], stock, "DE") is None


NODES = [Node(f"N{i}", "DE" if i % 2 else "FR", i % 3 + 1) for i in range(6)]
SKUS = ["A", "B", "C"]


@settings(max_examples=300)
@given(stock=st.dictionaries(st.tuples(st.sampled_from(SKUS), st.sampled_from([n.node_id for n in NODES])),
                             st.integers(0, 6), max_size=18),
       lines=st.lists(st.tuples(st.sampled_from(SKUS), st.integers(1, 8)), min_size=1, max_size=5))
def test_plans_never_oversell_cover_the_order_and_use_the_fewest_nodes(
        stock: dict[tuple[str, str], int], lines: list[tuple[str, int]]) -> None:
    demand = [Demand(str(i + 1), sku, qty) for i, (sku, qty) in enumerate(lines)]
    result = plan(demand, NODES, stock, "DE")
    needed: dict[str, int] = defaultdict(int)
    for d in demand:
        needed[d.sku] += d.quantity
    feasible = all(sum(stock.get((sku, n.node_id), 0) for n in NODES) >= q for sku, q in needed.items())
    assert (result is not None) is feasible
    if result is None:
        return
    taken: dict[tuple[str, str], int] = defaultdict(int)
    per_line: dict[str, int] = defaultdict(int)
    for a in result.allocations:
        assert a.quantity > 0
        taken[(a.sku, a.node_id)] += a.quantity
        per_line[a.line_id] += a.quantity
    assert all(q <= stock.get(key, 0) for key, q in taken.items())  # never more than available
    assert per_line == {d.line_id: d.quantity for d in demand}  # every unit of every line
    smallest = next(k for k in range(1, len(NODES) + 1) for combo in combinations(NODES, k)
                    if all(sum(stock.get((s, n.node_id), 0) for n in combo) >= q for s, q in needed.items()))
    assert len(result.node_ids) == smallest
    assert plan(demand, list(reversed(NODES)), stock, "DE") == result  # input order does not matter


def test_promise_before_cutoff_ships_today() -> None:
    monday_morning = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    assert promised_delivery(monday_morning, cutoff="15:00", method="standard", domestic=True) == date(2026, 11, 25)
    assert promised_delivery(monday_morning, cutoff="15:00", method="express", domestic=True) == date(2026, 11, 24)


def test_promise_after_cutoff_and_over_the_weekend() -> None:
    friday_evening = datetime(2026, 11, 27, 16, 0, tzinfo=UTC)
    # ships Monday 30th, two business days -> Wednesday 2 December
    assert promised_delivery(friday_evening, cutoff="15:00", method="standard", domestic=True) == date(2026, 12, 2)
    # cross-border standard is four business days
    assert promised_delivery(friday_evening, cutoff="15:00", method="standard", domestic=False) == date(2026, 12, 4)


def test_a_large_network_still_prefers_one_node_that_has_everything() -> None:
    # above EXACT_LIMIT stocked nodes the search turns greedy, but rule 1 still holds
    nodes = [Node(f"N{i:02d}", "DE", 1) for i in range(20)]
    stock = {("A", f"N{i:02d}"): 1 for i in range(19)} | {("A", "N19"): 5}
    result = plan([Demand("1", "A", 5)], nodes, stock, "DE")
    assert result is not None and result.node_ids == ("N19",)


def test_an_inactive_node_is_never_in_a_plan() -> None:
    # Given the best-ranked node holds everything but is inactive
    nodes = [Node("DC", "DE", 1, active=False), Node("STORE", "DE", 2)]
    stock = {("MUG", "DC"): 10, ("MUG", "STORE"): 1}
    # When 1 or 2 mugs are planned
    # Then the inactive node ships nothing: 1 comes from the store, 2 cannot ship
    assert plan([Demand("1", "MUG", 1)], nodes, stock, "DE").node_ids == ("STORE",)
    assert plan([Demand("1", "MUG", 2)], nodes, stock, "DE") is None
