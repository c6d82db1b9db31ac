"""Stock through the API (issue 3): nodes set their own stock, everyone reads it and asks
what can ship, from where, by when."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.e2e.conftest import KEYS
from tests.e2e.orders import key, new_order


def sku() -> str:
    return f"SKU-{uuid.uuid4().hex[:8].upper()}"


def put_stock(http: httpx.Client, item: str, node: str, on_hand: object, key: str) -> httpx.Response:
    return http.put(f"/inventory/{item}/nodes/{node}", json={"on_hand": on_hand}, headers={"x-api-key": key})


def test_nodes_set_their_own_stock_and_every_role_reads_it(http: httpx.Client) -> None:
    item = sku()
    r = put_stock(http, item, "DC-BERLIN", 40, KEYS["dc"])
    assert r.status_code == 200 and r.json() == {"sku": item, "node_id": "DC-BERLIN", "on_hand": 40, "reserved": 0,
                                                 "available": 40, "updated_at": r.json()["updated_at"]}
    assert put_stock(http, item, "STORE-MUNICH", 3, KEYS["agent"]).status_code == 200
    for role in ("webshop", "dc", "agent", "finance"):
        view = http.get(f"/inventory/{item}", headers={"x-api-key": KEYS[role]})
        assert view.status_code == 200 and view.json()["available"] == 43
    assert [n["node_id"] for n in view.json()["nodes"]] == ["DC-BERLIN", "STORE-MUNICH"]


def test_stock_updates_are_checked(http: httpx.Client) -> None:
    item = sku()
    assert put_stock(http, item, "STORE-MUNICH", 1, KEYS["dc"]).status_code == 404  # another node's stock
    assert put_stock(http, item, "DC-BERLIN", 1, KEYS["webshop"]).status_code == 403  # channels don't set stock
    assert put_stock(http, item, "DC-NOWHERE", 1, KEYS["agent"]).status_code == 404
    assert put_stock(http, "bad sku!", "DC-BERLIN", 1, KEYS["dc"]).status_code == 422
    bad = put_stock(http, item, "DC-BERLIN", -1, KEYS["dc"])
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "on_hand"
    assert http.get(f"/inventory/{item}", headers={"x-api-key": KEYS["agent"]}).json()["nodes"] == []


def test_availability_names_node_and_promise_for_each_line(http: httpx.Client) -> None:
    item = sku()
    put_stock(http, item, "STORE-MUNICH", 5, KEYS["store"])
    r = http.post("/availability", headers={"x-api-key": KEYS["webshop"]}, json={
        "lines": [{"sku": item, "quantity": 2}, {"sku": "NOT-STOCKED-ANYWHERE", "quantity": 1}],
        "shipping_address": {"name": "Ada", "line1": "x", "city": "Berlin", "postal_code": "10117", "country": "DE"}})
    assert r.status_code == 200, r.text
    first, second = r.json()["lines"]
    assert first["available"] is True and first["node_id"] == "STORE-MUNICH" and first["promised_delivery_date"]
    assert second == {"sku": "NOT-STOCKED-ANYWHERE", "quantity": 1, "available": False, "node_id": None,
                      "promised_delivery_date": None}


def test_inventory_needs_a_key(http: httpx.Client) -> None:
    assert http.get("/inventory/ANY").status_code == 401


def test_on_hand_below_what_is_reserved_is_refused_and_changes_nothing(http: httpx.Client) -> None:
    # Given 3 units at the store, 2 of them reserved by an order
    item = sku()
    assert put_stock(http, item, "STORE-MUNICH", 3, KEYS["store"]).status_code == 200
    body = new_order(sku=item, quantity=2)
    placed = http.post("/orders", json=body, headers={"x-api-key": KEYS["webshop"], "Idempotency-Key": key()})
    assert placed.status_code == 201, placed.text
    http.post("/_local/settle")
    view = http.get(f"/inventory/{item}", headers={"x-api-key": KEYS["agent"]}).json()
    assert view["nodes"][0]["reserved"] == 2
    # When the store counts 1 unit
    refused = put_stock(http, item, "STORE-MUNICH", 1, KEYS["store"])
    # Then it is told why (409), and the stock is as it was; a count of the reserved units is fine
    assert refused.status_code == 409, refused.text
    assert "reserved" in refused.json()["detail"]
    after = http.get(f"/inventory/{item}", headers={"x-api-key": KEYS["agent"]}).json()["nodes"][0]
    assert (after["on_hand"], after["reserved"]) == (3, 2)
    assert put_stock(http, item, "STORE-MUNICH", 2, KEYS["store"]).json()["available"] == 0


def test_dispatch_never_drives_stock_below_zero(http: httpx.Client, local_info: dict[str, object], aws: Any) -> None:
    from tests.e2e.test_fulfilment import dispatch, requests_of

    # Given 2 units at the store, both reserved by an order
    item = sku()
    assert put_stock(http, item, "STORE-MUNICH", 2, KEYS["store"]).status_code == 200
    placed = http.post("/orders", json=new_order(sku=item, quantity=2),
                       headers={"x-api-key": KEYS["webshop"], "Idempotency-Key": key()}).json()
    http.post("/_local/settle")
    store = {"x-api-key": KEYS["store"]}
    (request,) = requests_of(http, store, placed["order_id"])
    # And the record edited around the API afterwards (a bulk import, a console edit): 1 on hand
    aws("dynamodb").update_item(TableName=local_info["table_name"],
                                Key={"PK": {"S": f"SKU#{item}"}, "SK": {"S": "NODE#STORE-MUNICH"}},
                                UpdateExpression="SET on_hand = :one", ExpressionAttributeValues={":one": {"N": "1"}})
    # When the store confirms the dispatch of both units
    refused = dispatch(http, store, request["shipment_id"], "00340434000000000001")
    # Then it is refused as a conflict naming the stock record short of units (not "try again"),
    # and nothing moved: the stock is not driven negative
    assert refused.status_code == 409, refused.text
    detail = refused.json()["detail"]
    assert f"the stock record of {item} at STORE-MUNICH holds fewer than 2 units" in detail, detail
    assert f"PUT /inventory/{item}/nodes/STORE-MUNICH" in detail and "try again" not in detail, detail
    after = http.get(f"/inventory/{item}", headers={"x-api-key": KEYS["agent"]}).json()["nodes"][0]
    assert (after["on_hand"], after["reserved"]) == (1, 2)
    assert requests_of(http, store, placed["order_id"])[0]["status"] == "REQUESTED"
