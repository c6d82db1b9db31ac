"""Issue 3, Plan and Reserve: an order takes stock from the right nodes, all or nothing,
never overselling, and gives it back when cancelled."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from tests.e2e.conftest import KEYS
from tests.e2e.orders import key, new_order
from tests.e2e.test_capture_api import WEBSHOP, post_order
from tests.e2e.test_inventory_api import put_stock, sku

#: API.md: "Allocated" means ALLOCATED or any later status.
ALLOCATED_OR_LATER = {"ALLOCATED", "IN_FULFILLMENT", "PARTIALLY_SHIPPED", "SHIPPED", "COMPLETED"}
SETTLED = {"IN_FULFILLMENT", "BACKORDERED", "CANCELLED"}  # where the order workflow stops
AGENT = {"x-api-key": KEYS["agent"]}


def settled(http: httpx.Client, order_id: str, timeout: float = 10.0) -> dict[str, Any]:
    """Poll the order as a webshop would until its workflow has decided (API.md: within 10 s)."""
    deadline = time.monotonic() + timeout
    while True:
        order: dict[str, Any] = http.get(f"/orders/{order_id}", headers=WEBSHOP).json()
        if order["status"] in SETTLED or time.monotonic() > deadline:
            return order
        time.sleep(0.1)


def order_for(lines: list[dict[str, Any]]) -> dict[str, Any]:
    return new_order(lines=lines, payment={"method": "card", "authorization_id": "auth", "amount": "99999.00"})


def stock_of(http: httpx.Client, item: str) -> dict[str, dict[str, int]]:
    return {n["node_id"]: n for n in http.get(f"/inventory/{item}", headers=AGENT).json()["nodes"]}


def plan_of(order: dict[str, Any]) -> list[dict[str, Any]]:
    """Which node ships what, as the order shows it: its shipments' lines (one shipment per node)."""
    (allocated,) = [e for e in order["timeline"] if e["event"] == "OrderAllocated"]
    assert sorted(allocated["detail"]["nodes"]) == sorted(s["node_id"] for s in order["shipments"])
    return [{"line_id": ln["line_id"], "sku": ln["sku"], "node_id": s["node_id"], "quantity": ln["quantity"]}
            for s in order["shipments"] for ln in s["lines"]]


def test_order_for_stock_in_one_node_is_allocated_there(http: httpx.Client) -> None:
    item = sku()
    put_stock(http, item, "DC-BERLIN", 10, KEYS["dc"])
    put_stock(http, item, "STORE-MUNICH", 10, KEYS["store"])
    order = post_order(http, order_for([{"sku": item, "quantity": 3, "unit_price": "5.00"}]), key()).json()
    done = settled(http, order["order_id"])
    assert done["status"] in ALLOCATED_OR_LATER
    assert plan_of(done) == [{"line_id": "1", "sku": item, "node_id": "DC-BERLIN", "quantity": 3}]  # priority 1
    assert stock_of(http, item)["DC-BERLIN"] == {"sku": item, "node_id": "DC-BERLIN", "on_hand": 10, "reserved": 3,
                                                "available": 7, "updated_at": stock_of(http, item)["DC-BERLIN"]
                                                ["updated_at"]}


def test_lines_in_two_nodes_are_allocated_across_both(http: httpx.Client) -> None:
    mug, tea = sku(), sku()
    put_stock(http, mug, "DC-BERLIN", 5, KEYS["dc"])
    put_stock(http, tea, "STORE-MUNICH", 5, KEYS["store"])
    order = post_order(http, order_for([{"sku": mug, "quantity": 1, "unit_price": "5.00"},
                                        {"sku": tea, "quantity": 2, "unit_price": "3.00"}]), key()).json()
    done = settled(http, order["order_id"])
    assert done["status"] in ALLOCATED_OR_LATER
    assert {(p["sku"], p["node_id"]) for p in plan_of(done)} == {(mug, "DC-BERLIN"), (tea, "STORE-MUNICH")}


def test_order_without_stock_anywhere_is_backordered(http: httpx.Client) -> None:
    order = post_order(http, order_for([{"sku": sku(), "quantity": 1, "unit_price": "5.00"}]), key()).json()
    done = settled(http, order["order_id"])
    assert done["status"] == "BACKORDERED"
    assert "OrderBackordered" in [e["event"] for e in done["timeline"]]


def test_five_units_and_eight_concurrent_orders_allocate_exactly_five(http: httpx.Client) -> None:
    # Given 5 units in one node
    item = sku()
    put_stock(http, item, "DC-BERLIN", 5, KEYS["dc"])
    # When 8 webshop customers order one each at the same time
    body = lambda: order_for([{"sku": item, "quantity": 1, "unit_price": "5.00"}])  # noqa: E731
    with ThreadPoolExecutor(8) as pool:
        ids = [r.json()["order_id"] for r in pool.map(lambda _: post_order(http, body(), key()), range(8))]
    statuses = [settled(http, order_id)["status"] for order_id in ids]
    # Then exactly 5 are allocated, 3 backordered, and the stock is 5 reserved, 0 available, never negative
    assert sum(s in ALLOCATED_OR_LATER for s in statuses) == 5 and statuses.count("BACKORDERED") == 3
    level = stock_of(http, item)["DC-BERLIN"]
    assert (level["on_hand"], level["reserved"], level["available"]) == (5, 5, 0)


def test_cancel_before_dispatch_releases_the_reserved_stock(http: httpx.Client) -> None:
    item = sku()
    put_stock(http, item, "DC-BERLIN", 4, KEYS["dc"])
    order = post_order(http, order_for([{"sku": item, "quantity": 3, "unit_price": "5.00"}]), key()).json()
    assert settled(http, order["order_id"])["status"] in ALLOCATED_OR_LATER
    assert stock_of(http, item)["DC-BERLIN"]["available"] == 1
    cancelled = http.post(f"/orders/{order['order_id']}/cancel", json={"reason": "CUSTOMER"}, headers=WEBSHOP)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "CANCELLED"
    assert [e["event"] for e in cancelled.json()["timeline"]][-2:] == ["OrderCancelled", "StockReleased"]
    level = stock_of(http, item)["DC-BERLIN"]
    assert (level["reserved"], level["available"]) == (0, 4)
    # a second cancel is answered 200 and releases nothing twice
    again = http.post(f"/orders/{order['order_id']}/cancel", json={"reason": "CUSTOMER"}, headers=WEBSHOP)
    assert again.status_code == 200 and again.json()["status"] == "CANCELLED"
    assert stock_of(http, item)["DC-BERLIN"]["available"] == 4
