"""Issue 3, Release and Dispatch, as a warehouse and a store see it."""

from __future__ import annotations

from typing import Any

import httpx

from tests.e2e.conftest import KEYS
from tests.e2e.orders import key
from tests.e2e.test_allocation import order_for, settled, stock_of
from tests.e2e.test_capture_api import WEBSHOP, post_order
from tests.e2e.test_inventory_api import put_stock, sku

DC = {"x-api-key": KEYS["dc"]}
STORE = {"x-api-key": KEYS["store"]}


def requests_of(http: httpx.Client, headers: dict[str, str], order_id: str, status: str = "REQUESTED"
                ) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    token = None
    while True:
        page = http.get("/shipments", headers=headers,
                        params={"status": status, "limit": 100, **({"next_token": token} if token else {})}).json()
        found += [s for s in page["shipments"] if s["order_id"] == order_id]
        token = page["next_token"]
        if not token:
            return found


def dispatch(http: httpx.Client, headers: dict[str, str], shipment_id: str, tracking: str) -> httpx.Response:
    return http.post(f"/shipments/{shipment_id}/dispatch", headers=headers,
                     json={"carrier": "DHL", "tracking_number": tracking})


def test_one_node_order_becomes_a_request_the_node_dispatches(http: httpx.Client) -> None:
    item = sku()
    put_stock(http, item, "DC-BERLIN", 10, KEYS["dc"])
    order = post_order(http, order_for([{"sku": item, "quantity": 2, "unit_price": "5.00"}]), key()).json()
    done = settled(http, order["order_id"])
    # Then IN_FULFILLMENT with one REQUESTED shipment
    assert done["status"] == "IN_FULFILLMENT"
    (shipment,) = done["shipments"]
    assert shipment["status"] == "REQUESTED" and shipment["node_id"] == "DC-BERLIN"
    # And the warehouse sees what it needs to pick, pack and ship; the store does not see it
    (request,) = requests_of(http, DC, order["order_id"])
    assert request["lines"] == [{"line_id": "1", "sku": item, "quantity": 2}]
    assert request["ship_to"]["postal_code"] == "10117" and request["shipping_method"] == "standard"
    assert request["requested_at"] and request["shipment_id"] == shipment["shipment_id"]
    assert requests_of(http, STORE, order["order_id"]) == []
    # When the warehouse confirms dispatch
    r = dispatch(http, DC, shipment["shipment_id"], "00340434000000001")
    assert r.status_code == 200 and r.json()["status"] == "DISPATCHED" and r.json()["carrier"] == "DHL"
    # Then a repeat is harmless, another tracking number is a conflict, another node gets 404
    again = dispatch(http, DC, shipment["shipment_id"], "00340434000000001")
    assert again.status_code == 200 and again.json()["dispatched_at"] == r.json()["dispatched_at"]
    assert dispatch(http, DC, shipment["shipment_id"], "99999").status_code == 409
    assert dispatch(http, STORE, shipment["shipment_id"], "00340434000000001").status_code == 404
    # And the order is shipped, the units left the warehouse (reservation turned into a decrement)
    after = http.get(f"/orders/{order['order_id']}", headers=WEBSHOP).json()
    assert after["status"] in ("SHIPPED", "COMPLETED")  # COMPLETED once invoiced (test_invoicing)
    assert after["shipments"][0]["tracking_number"] == "00340434000000001"
    level = stock_of(http, item)["DC-BERLIN"]
    assert (level["on_hand"], level["reserved"], level["available"]) == (8, 0, 8)
    assert requests_of(http, DC, order["order_id"]) == []
    assert len(requests_of(http, DC, order["order_id"], "DISPATCHED")) == 1
    # A dispatched order can no longer be cancelled
    assert http.post(f"/orders/{order['order_id']}/cancel", json={"reason": "CUSTOMER"},
                     headers=WEBSHOP).status_code == 409


def test_two_node_order_ships_partially_then_fully(http: httpx.Client) -> None:
    mug, tea = sku(), sku()
    put_stock(http, mug, "DC-BERLIN", 5, KEYS["dc"])
    put_stock(http, tea, "STORE-MUNICH", 5, KEYS["store"])
    order = post_order(http, order_for([{"sku": mug, "quantity": 1, "unit_price": "5.00"},
                                        {"sku": tea, "quantity": 1, "unit_price": "3.00"}]), key()).json()
    done = settled(http, order["order_id"])
    assert done["status"] == "IN_FULFILLMENT" and len(done["shipments"]) == 2
    (berlin,) = requests_of(http, DC, order["order_id"])
    (munich,) = requests_of(http, STORE, order["order_id"])
    assert dispatch(http, DC, berlin["shipment_id"], "T-1").status_code == 200
    assert http.get(f"/orders/{order['order_id']}", headers=WEBSHOP).json()["status"] == "PARTIALLY_SHIPPED"
    assert dispatch(http, STORE, munich["shipment_id"], "T-2").status_code == 200
    assert http.get(f"/orders/{order['order_id']}", headers=WEBSHOP).json()["status"] in ("SHIPPED", "COMPLETED")


def test_cancel_in_fulfilment_withdraws_the_request_and_releases_stock(http: httpx.Client) -> None:
    item = sku()
    put_stock(http, item, "DC-BERLIN", 3, KEYS["dc"])
    order = post_order(http, order_for([{"sku": item, "quantity": 3, "unit_price": "5.00"}]), key()).json()
    (shipment,) = settled(http, order["order_id"])["shipments"]
    r = http.post(f"/orders/{order['order_id']}/cancel", json={"reason": "CUSTOMER"}, headers=WEBSHOP)
    assert r.status_code == 200 and r.json()["status"] == "CANCELLED"
    assert [s["status"] for s in r.json()["shipments"]] == ["CANCELLED"]
    assert requests_of(http, DC, order["order_id"]) == []  # the warehouse no longer sees it
    assert dispatch(http, DC, shipment["shipment_id"], "T-3").status_code == 409  # and may not ship it
    assert stock_of(http, item)["DC-BERLIN"]["available"] == 3


def test_only_nodes_use_the_fulfilment_api(http: httpx.Client) -> None:
    assert http.get("/shipments", headers=WEBSHOP).status_code == 403
    assert http.post("/shipments/shp_nonexistent-1/dispatch", headers=DC,
                     json={"carrier": "DHL", "tracking_number": "1"}).status_code == 404
    bad = http.post("/shipments/shp_x-1/dispatch", headers=DC, json={"carrier": "DHL"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "tracking_number"


def test_two_lines_of_one_sku_reserve_ship_and_decrement_together(http: httpx.Client) -> None:
    # a transaction may not touch one stock item twice: the lines are merged per stock record
    item = sku()
    put_stock(http, item, "DC-BERLIN", 5, KEYS["dc"])
    order = post_order(http, order_for([{"sku": item, "quantity": 1, "unit_price": "5.00"},
                                        {"sku": item, "quantity": 2, "unit_price": "4.00"}]), key()).json()
    (shipment,) = settled(http, order["order_id"])["shipments"]
    assert dispatch(http, DC, shipment["shipment_id"], "T-TWO-LINES").status_code == 200
    level = stock_of(http, item)["DC-BERLIN"]
    assert (level["on_hand"], level["reserved"], level["available"]) == (2, 0, 2)
