"""Issue 2 acceptance, as a webshop sees it: capture once, read it back, one workflow."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from tests.e2e.conftest import KEYS
from tests.e2e.orders import ORDER, key, new_order

WEBSHOP = {"x-api-key": KEYS["webshop"]}


def post_order(http: httpx.Client, body: Any, idem: str | None = None, api_key: str = KEYS["webshop"],
               **kwargs: Any) -> httpx.Response:
    headers = {"x-api-key": api_key}
    if idem is not None:
        headers["Idempotency-Key"] = idem
    if isinstance(body, (str, bytes)):
        return http.post("/orders", content=body, headers={**headers, "Content-Type": "application/json"}, **kwargs)
    return http.post("/orders", json=body, headers=headers, **kwargs)


def executions_for(aws: Any, info: dict[str, Any], order_id: str) -> list[dict[str, Any]]:
    sfn = aws("stepfunctions")
    arn = info["state_machines"]["order_fulfillment"]
    found = sfn.get_paginator("list_executions").paginate(stateMachineArn=arn).build_full_result()["executions"]
    return [e for e in found if order_id in e["name"]]


def wait_for(predicate: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def test_captured_order_is_readable_and_has_exactly_one_workflow(http: httpx.Client, local_info: dict[str, Any],
                                                                  aws: Any) -> None:
    # Given a webshop order  When it is posted
    r = post_order(http, new_order(), key())
    # Then 201 with the order and its location
    assert r.status_code == 201, r.text
    order = r.json()
    assert r.headers["Location"] == f"/orders/{order['order_id']}"
    assert order["status"] == "CAPTURED" and order["totals"] == {
        "subtotal": "25.00", "shipping": "4.90", "tax": "5.68", "total": "35.58"}
    # And it reads back
    got = http.get(f"/orders/{order['order_id']}", headers=WEBSHOP)
    assert got.status_code == 200 and got.json()["order_id"] == order["order_id"]
    assert got.json()["timeline"][0]["event"] == "OrderCaptured"
    # And exactly one workflow execution is started for it, settled within 10 s
    done = wait_for(lambda: [e for e in executions_for(aws, local_info, order["order_id"])
                             if e["status"] != "RUNNING"])
    assert len(done) == 1 and done[0]["status"] == "SUCCEEDED"
    time.sleep(0.5)  # a late duplicate would show up by now
    assert len(executions_for(aws, local_info, order["order_id"])) == 1
    timeline = [e["event"] for e in http.get(f"/orders/{order['order_id']}", headers=WEBSHOP).json()["timeline"]]
    assert timeline[:2] in (["OrderCaptured", "OrderAllocated"], ["OrderCaptured", "OrderBackordered"])


def test_replay_returns_the_original_201_and_creates_nothing(http: httpx.Client) -> None:
    body, idem = new_order(), key()
    first = post_order(http, body, idem)
    time.sleep(1)  # the order is planned meanwhile (allocated or backordered)
    again = post_order(http, body, idem)
    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json()  # the original response, whatever happened to the order since
    listed = http.get("/orders", headers=WEBSHOP, params={"limit": 100}).json()["orders"]
    assert sum(o["channel_order_id"] == body["channel_order_id"] for o in listed) == 1


def test_same_key_with_another_body_is_409(http: httpx.Client) -> None:
    idem = key()
    assert post_order(http, new_order(), idem).status_code == 201
    r = post_order(http, new_order(), idem)
    assert r.status_code == 409 and r.headers["Content-Type"] == "application/problem+json"


def test_a_used_key_with_another_invalid_body_is_409_not_422(http: httpx.Client) -> None:
    # Given a key that captured an order
    idem, body = key(), new_order()
    first = post_order(http, body, idem)
    assert first.status_code == 201
    # When the same key comes with a body that breaks the schema, or is not JSON at all
    invalid = {**body, "lines": [{"sku": "X", "quantity": "many", "unit_price": "1.00"}]}
    for reused in (post_order(http, invalid, idem), post_order(http, "{not json", idem)):
        # Then the key answers first: a conflict, whatever is wrong with the body
        assert reused.status_code == 409, reused.text
        assert "Idempotency-Key" in reused.json()["detail"]
    # And the same invalid body under an unused key is still the schema's 422 naming the field
    fresh = post_order(http, invalid, key())
    assert fresh.status_code == 422 and fresh.json()["errors"][0]["field"] == "lines[0].quantity"
    # And the original request replays as it was
    again = post_order(http, body, idem)
    assert again.status_code == 201 and again.json() == first.json()


def test_keys_are_scoped_per_principal(http: httpx.Client) -> None:
    idem, body = key(), new_order()
    a = post_order(http, body, idem)
    b = post_order(http, body, idem, api_key=KEYS["marketplace"])
    assert a.status_code == b.status_code == 201 and a.json()["order_id"] != b.json()["order_id"]
    assert b.json()["channel"] == "marketplace"


def test_reused_channel_order_id_is_409_naming_the_existing_order(http: httpx.Client) -> None:
    body = new_order()
    first = post_order(http, body, key()).json()
    r = post_order(http, body, key())
    assert r.status_code == 409 and first["order_id"] in r.json()["detail"]


def test_concurrent_retries_of_one_request_capture_one_order(http: httpx.Client) -> None:
    body, idem = new_order(), key()
    with ThreadPoolExecutor(8) as pool:
        codes = [r.status_code for r in pool.map(lambda _: post_order(http, body, idem), range(8))]
    assert set(codes) <= {201, 409} and 201 in codes
    listed = http.get("/orders", headers=WEBSHOP, params={"limit": 100}).json()["orders"]
    assert sum(o["channel_order_id"] == body["channel_order_id"] for o in listed) == 1


def test_concurrent_same_channel_order_id_with_different_keys_captures_one(http: httpx.Client) -> None:
    body = new_order()
    with ThreadPoolExecutor(6) as pool:
        codes = sorted(r.status_code for r in pool.map(lambda _: post_order(http, body, key()), range(6)))
    assert codes == [201, 409, 409, 409, 409, 409]


def test_an_order_of_200_lines_is_captured(http: httpx.Client) -> None:
    lines = [{"sku": f"SKU-{i:04d}", "quantity": 1 + i % 3, "unit_price": "1.99"} for i in range(200)]
    body = new_order(lines=lines, payment={"method": "card", "authorization_id": "auth_b2b", "amount": "9999.00"})
    r = post_order(http, body, key())
    assert r.status_code == 201, r.text
    assert len(http.get(f"/orders/{r.json()['order_id']}", headers=WEBSHOP).json()["lines"]) == 200


def test_cancel_before_dispatch(http: httpx.Client) -> None:
    order = post_order(http, new_order(), key()).json()
    r = http.post(f"/orders/{order['order_id']}/cancel", json={"reason": "CUSTOMER"}, headers=WEBSHOP)
    assert r.status_code == 200 and r.json()["status"] == "CANCELLED"
    assert http.post(f"/orders/{order['order_id']}/cancel", json={"reason": "CUSTOMER"},
                     headers=WEBSHOP).status_code == 200


def test_quote_prices_without_writing(http: httpx.Client) -> None:
    r = http.post("/orders/quote", json=ORDER, headers=WEBSHOP)
    assert r.status_code == 200 and r.json()["totals"]["total"] == "35.58"


def test_listing_pages_newest_first_and_filters_by_customer(http: httpx.Client) -> None:
    customer = f"C-{key()[-8:]}"
    ids = [post_order(http, new_order(customer={**ORDER["customer"], "customer_id": customer}), key()).json()
           ["order_id"] for _ in range(3)]
    page1 = http.get("/orders", headers=WEBSHOP, params={"customer_id": customer, "limit": 2}).json()
    page2 = http.get("/orders", headers=WEBSHOP,
                     params={"customer_id": customer, "limit": 2, "next_token": page1["next_token"]}).json()
    assert [o["order_id"] for o in page1["orders"] + page2["orders"]] == list(reversed(ids))
    assert page2["next_token"] is None
