"""Issue 11, backorders come alive: an order for stock nobody has waits BACKORDERED; stock put
through the inventory API allocates it (and the customer is told), oldest first, each once."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.e2e.conftest import KEYS
from tests.e2e.orders import key
from tests.e2e.test_allocation import order_for, settled, stock_of
from tests.e2e.test_capture_api import WEBSHOP, post_order
from tests.e2e.test_fulfilment import DC, dispatch, requests_of
from tests.e2e.test_inventory_api import put_stock, sku
from tests.e2e.test_notices import outbox
from tests.e2e.test_payments import until


def kinds(box: dict[str, Any]) -> list[str]:
    return sorted(m["kind"] for m in box["emails"])


def backordered(http: httpx.Client, item: str, quantity: int = 1) -> str:
    order = post_order(http, order_for([{"sku": item, "quantity": quantity, "unit_price": "5.00"}]), key()).json()
    assert settled(http, order["order_id"])["status"] == "BACKORDERED"
    return str(order["order_id"])


@pytest.mark.timeout(120)
def test_a_backordered_order_is_allocated_when_stock_arrives_and_completes(http: httpx.Client) -> None:
    # Given an order for a SKU no node has: it waits, and the customer is told so
    item = sku()
    order_id = backordered(http, item, 2)
    assert kinds(outbox(http, order_id, emails=1)) == ["order_backordered"]
    waiting = http.get(f"/orders/{order_id}", headers=WEBSHOP).json()
    assert waiting["backordered_lines"] == [{"line_id": "1", "sku": item, "quantity": 2}]
    # When the warehouse puts stock for it
    assert put_stock(http, item, "DC-BERLIN", 5, KEYS["dc"]).status_code == 200
    # Then the order is allocated there, its shipment requested, and the customer confirmed
    order = until(http, order_id, lambda o: o["status"] != "BACKORDERED", headers=WEBSHOP)
    assert order["status"] == "IN_FULFILLMENT", order["status"]
    (request,) = requests_of(http, DC, order_id)
    assert [(ln["sku"], ln["quantity"]) for ln in request["lines"]] == [(item, 2)]
    assert stock_of(http, item)["DC-BERLIN"]["reserved"] == 2
    box = outbox(http, order_id, emails=2)
    assert kinds(box) == ["order_backordered", "order_confirmed"]  # each once
    events = [e["event"] for e in order["timeline"]]
    assert events.count("OrderBackordered") == 1 and events.count("OrderAllocated") == 1
    # When the warehouse dispatches it, it completes (invoiced and paid)
    assert dispatch(http, DC, request["shipment_id"], "00340434161094042999").status_code == 200
    done = until(http, order_id, lambda o: o["status"] == "COMPLETED", headers=WEBSHOP, timeout=20)
    assert done["status"] == "COMPLETED" and done["backordered_lines"] == [] and order["backordered_lines"] == []


@pytest.mark.timeout(120)
def test_stock_for_one_goes_to_the_older_backorder_the_younger_waits_for_more(http: httpx.Client) -> None:
    # Given two backorders of one unit each for the same SKU
    item = sku()
    older, younger = backordered(http, item), backordered(http, item)
    # When one unit arrives
    put_stock(http, item, "DC-BERLIN", 1, KEYS["dc"])
    # Then the older is allocated, the younger still waits
    assert until(http, older, lambda o: o["status"] != "BACKORDERED", headers=WEBSHOP)["status"] == "IN_FULFILLMENT"
    assert settled(http, younger)["status"] == "BACKORDERED"
    assert stock_of(http, item)["DC-BERLIN"]["available"] == 0
    # When more stock comes, the younger is allocated too, and told once
    put_stock(http, item, "DC-BERLIN", 3, KEYS["dc"])
    assert until(http, younger, lambda o: o["status"] != "BACKORDERED", headers=WEBSHOP)["status"] == "IN_FULFILLMENT"
    assert stock_of(http, item)["DC-BERLIN"]["reserved"] == 2
    assert kinds(outbox(http, younger, emails=2)) == ["order_backordered", "order_confirmed"]
