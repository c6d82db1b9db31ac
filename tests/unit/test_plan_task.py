"""The Plan task: sources plannable orders, leaves cancelled ones alone."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from functions.capture.capturing import CaptureService
from functions.core.orders import OrderStatus
from functions.core.sourcing import Node, StockLevel
from functions.route.planning import PlanService
from tests.unit.fakes import FakeOrderStore
from tests.unit.test_capture_logic import WEBSHOP, body

ROOT = Path(__file__).resolve().parents[2]


class Stock:
    def nodes(self) -> list[Node]:
        return [Node("DC-BERLIN", "DE", 1), Node("STORE-MUNICH", "DE", 2)]

    def levels(self, sku: str) -> list[StockLevel]:
        return [StockLevel(sku, "STORE-MUNICH", on_hand=9, reserved=1)] if sku == "SKU-RED-MUG" else []

    def snapshot(self, skus: Sequence[str]) -> tuple[list[Node], list[StockLevel]]:
        return self.nodes(), [level for sku in skus for level in self.levels(sku)]


def test_plan_sources_a_captured_order_from_available_stock() -> None:
    store = FakeOrderStore()
    order = CaptureService(store=store).capture(body(), WEBSHOP)
    result = PlanService(orders=store, stock=Stock()).plan(order.order_id)
    assert result == {"order_id": order.order_id, "planned": True, "plannable": True, "allocations": [
        {"line_id": "1", "sku": "SKU-RED-MUG", "node_id": "STORE-MUNICH", "quantity": 2}],
        # where the shipments go travels with the plan (Reserve writes them without reading the order)
        "ship_to": {"name": "Ada Lovelace", "line1": "Unter den Linden 1", "city": "Berlin",
                    "postal_code": "10117", "country": "DE"}, "shipping_method": "standard", "wanted": []}


def test_plan_leaves_a_cancelled_order_alone_and_reports_unknown_stock() -> None:
    store = FakeOrderStore()
    order = CaptureService(store=store).capture(body(), WEBSHOP)
    store.orders[order.order_id] = replace(store.orders[order.order_id], status=OrderStatus.CANCELLED)
    assert PlanService(orders=store, stock=Stock()).plan(order.order_id)["plannable"] is False
    other = CaptureService(store=store).capture(
        body(channel_order_id="W-2", lines=[{"sku": "NONE", "quantity": 1, "unit_price": "1.00"}]), WEBSHOP)
    unplanned = PlanService(orders=store, stock=Stock()).plan(other.order_id)
    # with no plan, what the order waits for travels to Backorder
    assert unplanned["planned"] is False and unplanned["wanted"] == [{"sku": "NONE", "quantity": 1}]


def test_an_inactive_node_gets_no_new_request_whatever_stock_it_holds() -> None:
    # Given the only stock of the mug is at the store, and the store is paused
    class Paused(Stock):
        def nodes(self) -> list[Node]:
            return [Node("DC-BERLIN", "DE", 1), Node("STORE-MUNICH", "DE", 2, active=False)]

    store = FakeOrderStore()
    order = CaptureService(store=store).capture(body(), WEBSHOP)
    # When the order is planned
    result = PlanService(orders=store, stock=Paused()).plan(order.order_id)
    # Then no plan: the order waits for stock at an active node (backordered)
    assert result["plannable"] is True and result["planned"] is False and result["allocations"] == []


@pytest.mark.timeout(60)
def test_the_plan_task_does_not_load_node_management_or_dispatch() -> None:
    # the Plan task runs on every order: its cold start imports what planning needs, nothing more
    code = ("import sys, functions.route.handlers.plan; "
            "print(sorted(m for m in sys.modules if m.startswith('functions.route')))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=50,
                            check=False, env={**os.environ, "TABLE_NAME": "t", "AWS_DEFAULT_REGION": "eu-central-1"})
    assert result.returncode == 0, result.stderr
    loaded = set(ast.literal_eval(result.stdout.strip()))
    assert "functions.route.planning" in loaded  # the probe sees the route modules it loads
    assert not loaded & {"functions.route.nodes", "functions.route.adapters.node_table", "functions.route.models",
                         "functions.route.fulfilment", "functions.route.adapters.shipment_table",
                         "functions.route.endpoints"}, loaded
