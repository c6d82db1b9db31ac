"""Node management (route/nodes.py) as agents, nodes and other roles meet it, with an in-memory
store that refuses writes the way the table's conditions do; and the Plan task's node cache,
which must never plan with a network older than the last node write."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from pydantic import ValidationError

from functions.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from functions.core.principal import Principal
from functions.core.sourcing import Node, StockLevel
from functions.route.adapters.node_cache import CachedNodes
from functions.route.models import NodeIn
from functions.route.nodes import ManagedNode, NodeService

AGENT = Principal("agent", "agent")
DC = Principal("node", "DC-BERLIN")
WEBSHOP = Principal("channel", "webshop")
FINANCE = Principal("finance", "finance")

BODY: dict[str, Any] = {
    "type": "DC", "name": "Distribution centre Berlin",
    "address": {"line1": "Lagerstraße 1", "city": "Berlin", "postal_code": "10115", "country": "DE"},
    "priority": 1, "cut_off": "15:00", "timezone": "Europe/Berlin", "processing_days": 0, "daily_capacity": None,
    "shipping_methods": ["standard", "express"], "accepts_returns": True, "active": True,
}


def definition(**changes: Any) -> Any:
    return NodeIn.model_validate({**BODY, **changes}).to_command()


class MemoryNodes:
    """The table's semantics: a new node only if absent, a change only at the version read; every
    write moves the network's version."""

    def __init__(self) -> None:
        self.items: dict[str, ManagedNode] = {}
        self.network_version = 0
        self.writes = 0
        self.interfere: ManagedNode | None = None  # written by "another agent" just before the next put

    def get(self, node_id: str) -> ManagedNode | None:
        return self.items.get(node_id)

    def put(self, node: ManagedNode, *, expected_version: int | None) -> None:
        if self.interfere is not None:
            self.items[self.interfere.node_id], self.interfere = self.interfere, None
            self.network_version += 1
        current = self.items.get(node.node_id)
        if (current is None) != (expected_version is None) or (current and current.version != expected_version):
            raise Conflict("changed concurrently")
        self.items[node.node_id] = node
        self.network_version += 1
        self.writes += 1

    def listing(self, *, limit: int, token: str | None) -> tuple[list[ManagedNode], str | None]:
        rows = sorted(self.items.values(), key=lambda n: n.node_id)
        start = int(token or 0)
        more = start + limit < len(rows)
        return rows[start:start + limit], str(start + limit) if more else None

    def every_node(self) -> list[ManagedNode]:
        return sorted(self.items.values(), key=lambda n: n.node_id)

    # NetworkView, for the cache
    def nodes(self) -> list[Node]:
        return [n.sourcing() for n in self.items.values()]

    def version(self) -> int:
        return self.network_version


@pytest.fixture
def store() -> MemoryNodes:
    return MemoryNodes()


@pytest.fixture
def service(store: MemoryNodes) -> NodeService:
    return NodeService(store=store, clock=lambda: "2026-12-01T10:00:00.000Z")


def test_an_agent_creates_a_node_and_gets_it_back_as_written(service: NodeService) -> None:
    view, created = service.put("DC-HAMBURG", definition(name="DC Hamburg"), AGENT)
    assert created is True
    assert view == {**BODY, "name": "DC Hamburg", "node_id": "DC-HAMBURG", "version": 1,
                    "created_at": "2026-12-01T10:00:00.000Z", "updated_at": "2026-12-01T10:00:00.000Z"}
    assert service.get("DC-HAMBURG", AGENT) == view


def test_the_same_put_again_writes_nothing_and_a_change_moves_the_version(
        service: NodeService, store: MemoryNodes) -> None:
    first, _ = service.put("DC-HAMBURG", definition(), AGENT)
    again, created = service.put("DC-HAMBURG", definition(), AGENT)
    assert (again, created, store.writes) == (first, False, 1)
    changed, created = service.put("DC-HAMBURG", definition(active=False), AGENT)
    assert created is False and changed["active"] is False and changed["version"] == 2
    assert changed["created_at"] == first["created_at"] and store.writes == 2


def test_a_put_replaces_the_whole_node_even_over_a_change_made_meanwhile(
        service: NodeService, store: MemoryNodes) -> None:
    service.put("DC-HAMBURG", definition(), AGENT)
    held = store.items["DC-HAMBURG"]
    # another agent renames it between this put's read and its write
    store.interfere = replace(held, definition=definition(name="Renamed"), version=held.version + 1)
    view, _ = service.put("DC-HAMBURG", definition(priority=5), AGENT)
    # the write is refused at the version read, the node read again and replaced whole: the last
    # PUT wins (the contract's whole-node replace), so the rename is gone — not merged, not interleaved
    assert store.items["DC-HAMBURG"].definition == definition(priority=5)
    assert view["name"] == BODY["name"] and view["priority"] == 5 and view["version"] == 3
    # and the network's version moved with each of the three writes (plans see every one)
    assert store.network_version == 3


def test_a_node_that_keeps_changing_is_a_conflict(store: MemoryNodes) -> None:
    class Busy(MemoryNodes):
        def put(self, node: ManagedNode, *, expected_version: int | None) -> None:
            raise Conflict("changed concurrently")

    with pytest.raises(Conflict, match="keeps changing"):
        NodeService(store=Busy()).put("DC-HAMBURG", definition(), AGENT)


@pytest.mark.parametrize("principal", [DC, WEBSHOP, FINANCE])
def test_only_agents_change_nodes(service: NodeService, principal: Principal) -> None:
    with pytest.raises(Forbidden):
        service.put("DC-BERLIN", definition(), principal)


@pytest.mark.parametrize("node_id", ["", "DC#1", "DC/1", "-DC", "DC BERLIN", "X" * 65])
def test_a_node_id_that_cannot_be_a_key_is_refused_naming_it(service: NodeService, node_id: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        service.put(node_id, definition(), AGENT)
    assert refused.value.errors[0].field == "node_id"


def test_a_node_reads_only_itself(service: NodeService) -> None:
    service.put("DC-BERLIN", definition(), AGENT)
    service.put("STORE-MUNICH", definition(type="STORE", name="Store Munich"), AGENT)
    assert service.get("DC-BERLIN", DC)["node_id"] == "DC-BERLIN"
    with pytest.raises(NotFound):  # another node does not exist for it
        service.get("STORE-MUNICH", DC)
    assert [n["node_id"] for n in service.listing(DC, limit=50, token=None)[0]] == ["DC-BERLIN"]
    for principal in (WEBSHOP, FINANCE):
        with pytest.raises(Forbidden):
            service.listing(principal, limit=50, token=None)
        with pytest.raises(Forbidden):
            service.get("DC-BERLIN", principal)


def test_agents_list_every_node_a_page_at_a_time(service: NodeService) -> None:
    for i in range(5):
        service.put(f"N-{i}", definition(name=f"Node {i}"), AGENT)
    seen: list[str] = []
    token = None
    while True:
        page, token = service.listing(AGENT, limit=2, token=token)
        assert len(page) <= 2
        seen += [n["node_id"] for n in page]
        if token is None:
            break
    assert seen == [f"N-{i}" for i in range(5)]
    assert [n["node_id"] for n in service.network(AGENT)] == seen  # the operator's listing: all at once
    with pytest.raises(Forbidden):
        service.network(DC)


def test_an_unknown_node_is_404(service: NodeService) -> None:
    with pytest.raises(NotFound):
        service.get("NOPE", AGENT)


@pytest.mark.parametrize(("change", "field"), [
    ({"type": "WAREHOUSE"}, "type"),
    ({"address": {"country": "Germany"}}, "address.country"),
    ({"address": {"city": "Berlin"}}, "address.country"),
    ({"cut_off": "25:00"}, "cut_off"),
    ({"cut_off": "3pm"}, "cut_off"),
    ({"timezone": "Europe/Atlantis"}, "timezone"),
    ({"timezone": "../../etc/passwd"}, "timezone"),
    ({"priority": -1}, "priority"),
    ({"processing_days": -2}, "processing_days"),
    ({"daily_capacity": -5}, "daily_capacity"),
    ({"shipping_methods": ["standard", "teleport"]}, "shipping_methods.1"),
    ({"shipping_methods": []}, "shipping_methods"),
    ({"active": "no"}, "active"),
    ({"colour": "blue"}, "colour"),
])
def test_a_node_that_breaks_the_rules_is_refused_naming_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        NodeIn.model_validate({**BODY, **change})
    fields = {".".join(str(p) for p in e["loc"] if "[" not in str(p)) for e in refused.value.errors()}
    assert field in fields


class NoStock:
    """Stock records in memory, with the network's version as the table would give it."""

    def __init__(self, network: Any = None, levels: list[StockLevel] | None = None) -> None:
        self.network, self.records = network, list(levels or [])
        self.batched: list[tuple[list[str], list[str]]] = []

    def levels(self, sku: str) -> list[StockLevel]:
        return [lv for lv in self.records if lv.sku == sku]

    def version_and_levels(self, skus: Any, node_ids: Any) -> tuple[int, list[StockLevel]]:
        self.batched.append((list(skus), list(node_ids)))
        return self.network.version(), [lv for lv in self.records if lv.sku in skus and lv.node_id in node_ids]


def test_the_plan_cache_rereads_the_network_as_soon_as_a_node_changed(
        service: NodeService, store: MemoryNodes) -> None:
    service.put("DC-BERLIN", definition(), AGENT)
    reads = []

    class Counting(MemoryNodes):
        def nodes(inner) -> list[Node]:
            reads.append(1)
            return store.nodes()

        def version(inner) -> int:
            return store.version()

    stock = NoStock(store, [StockLevel("MUG", "DC-BERLIN", on_hand=5, reserved=0)])
    cached = CachedNodes(stock=stock, network=Counting())
    nodes, levels = cached.snapshot(["MUG"])
    assert [n.active for n in nodes] == [True] and [lv.on_hand for lv in levels] == [5]
    # holding the network, a plan reads the version with the stock: one read, no node read
    nodes, levels = cached.snapshot(["MUG"])
    assert len(reads) == 1 and stock.batched == [(["MUG"], ["DC-BERLIN"])] and [lv.on_hand for lv in levels] == [5]
    service.put("DC-BERLIN", definition(active=False), AGENT)
    # the very next plan sees the change (no time-to-live to wait out)
    nodes, _ = cached.snapshot(["MUG"])
    assert [n.active for n in nodes] == [False] and len(reads) == 2


def test_the_plan_cache_reads_a_large_order_in_batches_not_a_query_per_sku(
        service: NodeService, store: MemoryNodes) -> None:
    service.put("DC-BERLIN", definition(), AGENT)
    stock = NoStock(store, [StockLevel(f"SKU-{i}", "DC-BERLIN", on_hand=1, reserved=0) for i in range(250)])
    cached = CachedNodes(stock=stock, network=store)
    cached.snapshot(["A"])  # the first plan of a container reads the network
    # a 250-line order: 251 keys with the version, more than one BatchGetItem takes
    nodes, levels = cached.snapshot([f"SKU-{i}" for i in range(250)])
    # Then the records are read together with the version (the reader batches them), every one found
    assert stock.batched[-1] == ([f"SKU-{i}" for i in range(250)], ["DC-BERLIN"]) and len(levels) == 250
    # And after a node change the large order is read in batches again, not with 250 Queries
    service.put("DC-BERLIN", definition(priority=2), AGENT)
    stock.levels = lambda sku: pytest.fail("a Query per SKU for a large order")  # type: ignore[method-assign]
    nodes, levels = cached.snapshot([f"SKU-{i}" for i in range(250)])
    assert [n.priority for n in nodes] == [2] and len(levels) == 250
