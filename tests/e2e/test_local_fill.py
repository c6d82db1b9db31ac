"""``oms local fill`` (``POST /_local/fill``): the local stack filled with realistic order history,
seen the way its users see it — through the API, the outbox and the `oms` command line."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import KEYS
from tests.e2e.orders import key, new_order
from tests.e2e.test_oms_cli import oms, port_of

AGENT = {"x-api-key": KEYS["agent"]}
CHANNEL = {"x-api-key": KEYS["webshop"]}


def _all_orders(http: httpx.Client, params: dict[str, Any]) -> list[dict[str, Any]]:
    orders: list[dict[str, Any]] = []
    token = None
    while True:
        page = http.get("/orders", params={**params, **({"next_token": token} if token else {})}, headers=CHANNEL)
        assert page.status_code == 200, page.text
        orders += page.json()["orders"]
        token = page.json().get("next_token")
        if not token:
            return orders


@pytest.mark.timeout(240)
def test_a_filled_stack_holds_completed_orders_that_read_like_real_ones(stack: str, http: httpx.Client) -> None:
    emails_before = len(http.get("/_local/outbox").json()["emails"])
    earlier = {o["order_id"] for o in _all_orders(http, {"customer_id": "FILL-C00003", "limit": 50})}
    # When an operator fills the stack with 60 orders over the last 10 days, among 7 customers
    result = oms("local", "fill", "--orders", "60", "--days", "10", "--customers", "7", port=port_of(stack),
                 timeout=200)
    # Then it says what it wrote
    assert result.returncode == 0, result.stderr
    assert "filled 60 orders" in result.stdout
    # ...and the orders are there as the API shows any order: completed, dispatched, invoiced
    listed = _all_orders(http, {"customer_id": "FILL-C00003", "limit": 3})  # paged, 3 at a time
    filled = [o for o in listed if o["order_id"] not in earlier]  # (the bench's fill may have made some)
    assert len(filled) == 8, [o["order_id"] for o in filled]  # every 7th of the 59 copies
    order = http.get(f"/orders/{filled[0]['order_id']}", headers=AGENT).json()
    assert order["status"] == "COMPLETED"
    assert [s["status"] for s in order["shipments"]] == ["DISPATCHED"]
    assert len(order["invoices"]) == 1 and order["customer"]["customer_id"] == "FILL-C00003"
    events = [e["event"] for e in order["timeline"]]
    assert events[0] == "OrderCaptured" and "OrderCompleted" in events
    # each copy has its own ids, invoice number and time, newest first, within the 10 days
    numbers = [http.get(f"/orders/{o['order_id']}", headers=AGENT).json()["invoices"][0]["invoice_number"]
               for o in filled]
    assert len(set(numbers)) == len(numbers) == len({o["order_id"] for o in filled})
    created = [o["created_at"] for o in filled]
    assert created == sorted(created, reverse=True)
    assert created[-1] >= time.strftime("%Y-%m-%d", time.gmtime(time.time() - 11 * 86400))
    # no stream consumer acted on history: no notice went out for a filled order
    assert len(http.get("/_local/outbox").json()["emails"]) - emails_before <= 2  # the template's own
    # and the stack carries on: a new order is newest in its channel, invoiced after the fill's numbers
    placed = http.post("/orders", json=new_order(), headers={**CHANNEL, "Idempotency-Key": key()})
    assert placed.status_code == 201, placed.text
    first = http.get("/orders", params={"limit": 1}, headers=CHANNEL).json()["orders"][0]
    assert first["order_id"] == placed.json()["order_id"]


@pytest.mark.timeout(60)
def test_a_fill_without_a_count_is_refused_naming_the_field(http: httpx.Client) -> None:
    for body, field in (({}, "orders"), ({"orders": 10, "items": 10}, "orders"), ({"orders": -1}, "orders"),
                        ({"items": "many"}, "items"), ({"orders": 5, "days": 0}, "days")):
        answer = http.post("/_local/fill", json=body)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.json()["errors"][0]["field"] == field
    assert http.post("/_local/fill", content=b"{not json").status_code == 400
