"""Inventory and availability as nodes, agents and channels see them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from functions.allocate.inventory import InventoryService
from functions.allocate.models import AvailabilityIn
from functions.allocate.ports import StockLevel
from functions.core.errors import Forbidden, NotFound
from functions.core.principal import Principal
from functions.core.sourcing import Node


class MemoryStock:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], StockLevel] = {}
        self._nodes = [Node("DC-BERLIN", "DE", 1, "DC", "15:00"), Node("STORE-MUNICH", "DE", 2, "STORE", "12:00")]

    def nodes(self) -> list[Node]:
        return list(self._nodes)

    def levels(self, sku: str) -> list[StockLevel]:
        return [lv for (s, _), lv in self.items.items() if s == sku]

    def set_on_hand(self, sku: str, node_id: str, on_hand: int, at: str) -> StockLevel:
        old = self.items.get((sku, node_id))
        level = StockLevel(sku, node_id, on_hand, old.reserved if old else 0, at)
        self.items[(sku, node_id)] = level
        return level


DC = Principal("node", "DC-BERLIN")
AGENT = Principal("agent", "agent")
MONDAY_9 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture
def service() -> InventoryService:
    return InventoryService(store=MemoryStock(), clock=lambda: "2026-11-23T09:00:00.000Z", now=lambda: MONDAY_9)


def test_node_sets_its_own_stock_and_everyone_sees_the_total(service: InventoryService) -> None:
    assert service.set_on_hand("MUG", "DC-BERLIN", 40, DC)["available"] == 40
    service.set_on_hand("MUG", "STORE-MUNICH", 3, AGENT)
    view = service.inventory("MUG")
    assert view["available"] == 43 and [n["node_id"] for n in view["nodes"]] == ["DC-BERLIN", "STORE-MUNICH"]


def test_a_node_may_not_set_another_nodes_stock(service: InventoryService) -> None:
    with pytest.raises(NotFound):  # another principal's resource does not exist for it
        service.set_on_hand("MUG", "STORE-MUNICH", 1, DC)
    with pytest.raises(Forbidden):
        service.set_on_hand("MUG", "DC-BERLIN", 1, Principal("channel", "webshop"))


def test_unknown_node_is_404(service: InventoryService) -> None:
    with pytest.raises(NotFound):
        service.set_on_hand("MUG", "DC-NOWHERE", 1, AGENT)


def test_available_never_goes_below_zero_after_a_recount() -> None:
    assert StockLevel("MUG", "DC-BERLIN", on_hand=2, reserved=5).available == 0


def test_availability_names_the_node_and_a_promise_date(service: InventoryService) -> None:
    service.set_on_hand("MUG", "STORE-MUNICH", 5, AGENT)
    request = AvailabilityIn.model_validate({"lines": [{"sku": "MUG", "quantity": 2}, {"sku": "NONE", "quantity": 1}],
                                             "shipping_address": {"country": "DE", "city": "Berlin"}})
    lines = service.availability(request.to_query())["lines"]
    assert lines[0] == {"sku": "MUG", "quantity": 2, "available": True, "node_id": "STORE-MUNICH",
                        "promised_delivery_date": "2026-11-25"}  # before the 12:00 cut-off, 2 days domestic
    assert lines[1]["available"] is False and lines[1]["node_id"] is None
