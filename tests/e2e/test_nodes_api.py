"""Issue 10, nodes you can manage: an agent opens a node with ``PUT /nodes``, gives it stock, and
the node's own key (issued through key management) reads the fulfilment requests it gets; a
paused node gets none, and a change applies to the very next order."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import KEYS
from tests.e2e.orders import key
from tests.e2e.test_allocation import order_for, settled
from tests.e2e.test_capture_api import post_order
from tests.e2e.test_fulfilment import requests_of
from tests.e2e.test_inventory_api import put_stock, sku

AGENT = {"x-api-key": KEYS["agent"]}
NODE: dict[str, Any] = {
    "type": "DC", "name": "Distribution centre Hamburg",
    "address": {"line1": "Kai 1", "city": "Hamburg", "postal_code": "20457", "country": "DE"},
    "priority": 1, "cut_off": "15:00", "timezone": "Europe/Berlin", "processing_days": 0, "daily_capacity": None,
    "shipping_methods": ["standard", "express"], "accepts_returns": True, "active": True,
}


def node_id(prefix: str = "DC-E2E") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6].upper()}"


def put_node(http: httpx.Client, nid: str, body: dict[str, Any], headers: dict[str, str] = AGENT) -> httpx.Response:
    return http.put(f"/nodes/{nid}", json=body, headers=headers)


def node_key(aws: Any, local_info: dict[str, Any], nid: str) -> str:
    """The node's key, issued through key management as `oms keys issue --role node` does."""
    from functions.access.adapters.key_store import USAGE_PLAN_OUTPUTS, ApiGatewayKeys, DynamoKeyStore
    from functions.access.keys import KeyManager

    outputs = {o["OutputKey"]: o["OutputValue"] for o in aws("cloudformation").describe_stacks(
        StackName=local_info.get("stack_name") or "Oms-local")["Stacks"][0]["Outputs"]}
    manager = KeyManager(DynamoKeyStore(outputs["TableName"], aws("dynamodb")),
                         ApiGatewayKeys({r: outputs[o] for r, o in USAGE_PLAN_OUTPUTS.items()}, aws("apigateway")))
    value, _ = manager.issue("node", nid)
    return value


def test_a_node_created_through_the_api_receives_the_requests_for_its_stock(
        http: httpx.Client, aws: Any, local_info: dict[str, Any]) -> None:
    # Given an agent opens a node
    nid = node_id()
    created = put_node(http, nid, NODE)
    assert created.status_code == 200, created.text
    assert created.json() == {**NODE, "node_id": nid, "version": 1, "created_at": created.json()["created_at"],
                              "updated_at": created.json()["created_at"]}
    # And the node has its own key, and is the only one with stock of an item
    headers = {"x-api-key": node_key(aws, local_info, nid)}
    item = sku()
    assert put_stock(http, item, nid, 5, headers["x-api-key"]).status_code == 200
    # When a webshop orders the item
    order = post_order(http, order_for([{"sku": item, "quantity": 2, "unit_price": "4.00"}]), key()).json()
    done = settled(http, order["order_id"])
    # Then the new node is asked to ship it, and reads the request with its own key
    assert done["status"] == "IN_FULFILLMENT", done
    assert [s["node_id"] for s in done["shipments"]] == [nid]
    (request,) = requests_of(http, headers, order["order_id"])
    assert request["lines"] == [{"line_id": "1", "sku": item, "quantity": 2}]
    # And it sees itself, and only itself, among the nodes
    assert http.get(f"/nodes/{nid}", headers=headers).json()["name"] == NODE["name"]
    assert [n["node_id"] for n in http.get("/nodes", headers=headers).json()["nodes"]] == [nid]
    assert http.get("/nodes/DC-BERLIN", headers=headers).status_code == 404


def test_a_node_paused_is_skipped_by_the_very_next_order(http: httpx.Client) -> None:
    # Given a node that holds the only stock of an item, and an order it was asked to ship
    nid, item = node_id(), sku()
    assert put_node(http, nid, NODE).status_code == 200
    assert put_stock(http, item, nid, 10, KEYS["agent"]).status_code == 200
    first = post_order(http, order_for([{"sku": item, "quantity": 1, "unit_price": "4.00"}]), key()).json()
    assert [s["node_id"] for s in settled(http, first["order_id"])["shipments"]] == [nid]
    # When an agent pauses it, and an order is placed right after the 200
    paused = put_node(http, nid, {**NODE, "active": False})
    assert paused.status_code == 200 and paused.json()["active"] is False and paused.json()["version"] == 2
    second = post_order(http, order_for([{"sku": item, "quantity": 1, "unit_price": "4.00"}]), key()).json()
    # Then the paused node gets no request: the order waits for stock elsewhere
    after = settled(http, second["order_id"])
    assert after["status"] == "BACKORDERED" and after["shipments"] == []
    # And availability no longer promises its stock, which it still holds
    promise = http.post("/availability", headers=AGENT, json={"lines": [{"sku": item, "quantity": 1}],
                                                               "shipping_address": {"country": "DE"}})
    assert promise.status_code == 200 and promise.json()["lines"][0]["available"] is False
    assert http.get(f"/inventory/{item}", headers=AGENT).json()["nodes"][0]["on_hand"] == 10


def test_a_new_priority_applies_to_the_next_order(http: httpx.Client) -> None:
    # Given two nodes with the item, the first one preferred
    first, second, item = node_id("A-E2E"), node_id("B-E2E"), sku()
    for nid, priority in ((first, 1), (second, 2)):
        assert put_node(http, nid, {**NODE, "priority": priority}).status_code == 200
        assert put_stock(http, item, nid, 10, KEYS["agent"]).status_code == 200
    one = post_order(http, order_for([{"sku": item, "quantity": 1, "unit_price": "4.00"}]), key()).json()
    assert [s["node_id"] for s in settled(http, one["order_id"])["shipments"]] == [first]
    # When the agent makes the first one the less preferred
    assert put_node(http, first, {**NODE, "priority": 9}).status_code == 200
    two = post_order(http, order_for([{"sku": item, "quantity": 1, "unit_price": "4.00"}]), key()).json()
    # Then the next order goes to the other one
    assert [s["node_id"] for s in settled(http, two["order_id"])["shipments"]] == [second]


def test_put_is_idempotent_and_agents_list_every_node(http: httpx.Client) -> None:
    nid = node_id()
    first = put_node(http, nid, NODE).json()
    again = put_node(http, nid, NODE)
    assert again.status_code == 200 and again.json() == first  # no new version, no new time
    listed: list[str] = []
    token = None
    while True:
        page = http.get("/nodes", headers=AGENT, params={"limit": 2, **({"next_token": token} if token else {})})
        assert page.status_code == 200
        listed += [n["node_id"] for n in page.json()["nodes"]]
        token = page.json()["next_token"]
        if not token:
            break
    assert {"DC-BERLIN", "STORE-MUNICH", nid} <= set(listed) and listed == sorted(listed)
    forged = http.get("/nodes", headers=AGENT, params={"next_token": "eyJQSyI6ICJPUkRFUiN4In0"})
    assert forged.status_code == 400 and forged.headers["Content-Type"] == "application/problem+json"
    assert http.get("/nodes/DC-BERLIN", headers=AGENT).json()["timezone"] == "Europe/Berlin"  # seeded as the API has it


@pytest.mark.parametrize(("change", "field"), [
    ({"type": "WAREHOUSE"}, "type"),
    ({"address": {"city": "Hamburg", "country": "Germany"}}, "address.country"),
    ({"cut_off": "24:00"}, "cut_off"),
    ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
    ({"priority": -1}, "priority"),
    ({"processing_days": -1}, "processing_days"),
    ({"daily_capacity": -1}, "daily_capacity"),
    ({"shipping_methods": ["standard", "pigeon"]}, "shipping_methods[1]"),
])
def test_a_bad_node_is_422_naming_the_field_and_nothing_is_written(
        http: httpx.Client, change: dict[str, Any], field: str) -> None:
    nid = node_id()
    r = put_node(http, nid, {**NODE, **change})
    assert r.status_code == 422 and r.headers["Content-Type"] == "application/problem+json"
    assert field in [e["field"] for e in r.json()["errors"]], r.json()
    assert http.get(f"/nodes/{nid}", headers=AGENT).status_code == 404


@pytest.mark.parametrize("bad", ["-DC", "DC!ONE", "D" * 65])
def test_a_node_id_that_cannot_be_a_key_is_422(http: httpx.Client, bad: str) -> None:
    r = put_node(http, bad, NODE)
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["node_id"], r.text


def test_roles(http: httpx.Client) -> None:
    nid = node_id()
    # no key: 401; a key of a role that may not: 403 — all problem+json
    assert put_node(http, nid, NODE, headers={}).status_code == 401
    for who in ("webshop", "dc", "finance"):
        r = put_node(http, nid, NODE, headers={"x-api-key": KEYS[who]})
        assert r.status_code == 403 and r.headers["Content-Type"] == "application/problem+json", who
    for who in ("webshop", "finance"):
        assert http.get("/nodes", headers={"x-api-key": KEYS[who]}).status_code == 403
        assert http.get("/nodes/DC-BERLIN", headers={"x-api-key": KEYS[who]}).status_code == 403
    assert http.get(f"/nodes/{nid}", headers=AGENT).status_code == 404  # nothing was written
    # a node reads itself, and another node does not exist for it
    dc = {"x-api-key": KEYS["dc"]}
    assert http.get("/nodes/DC-BERLIN", headers=dc).json()["node_id"] == "DC-BERLIN"
    assert http.get("/nodes/STORE-MUNICH", headers=dc).status_code == 404


def _plan_calls(http: httpx.Client, item: str) -> dict[str, int]:
    """The AWS calls the Plan task made for one order of ``item`` (counted by the local stack)."""
    http.post("/_local/settle", params={"timeout": 30})
    http.post("/_local/requests/reset")
    post_order(http, order_for([{"sku": item, "quantity": 1, "unit_price": "4.00"}]), key())
    assert http.post("/_local/settle", params={"timeout": 30}).status_code == 200
    calls: dict[str, int] = http.get("/_local/requests").json()["aws_calls"]["by_caller"]["oms-local-route-plan"]
    return calls


def test_planning_reads_the_network_again_only_after_a_change(http: httpx.Client) -> None:
    # Given a network planned with once already
    item = sku()
    assert put_stock(http, item, "DC-BERLIN", 10, KEYS["dc"]).status_code == 200
    _plan_calls(http, item)
    # When nothing changed, a plan costs its order's Query and one read of the network's version
    # together with the stock records at the known nodes
    assert _plan_calls(http, item) == {"dynamodb.Query": 1, "dynamodb.BatchGetItem": 1}
    # And after a node write, that read shows the version moved: the next plan reads the nodes and
    # the SKU's stock once more, then no more
    assert put_node(http, node_id(), {**NODE, "active": False}).status_code == 200
    # (the version as the batch read it: no second read of it)
    assert _plan_calls(http, item) == {"dynamodb.Query": 3, "dynamodb.BatchGetItem": 1}
    assert _plan_calls(http, item) == {"dynamodb.Query": 1, "dynamodb.BatchGetItem": 1}
