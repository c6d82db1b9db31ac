"""Issue 3, Notify: the customer hears about their order once per event, in their language."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.e2e.conftest import KEYS
from tests.e2e.orders import ORDER, key
from tests.e2e.test_allocation import order_for, settled
from tests.e2e.test_capture_api import WEBSHOP, post_order
from tests.e2e.test_fulfilment import DC, dispatch
from tests.e2e.test_inventory_api import put_stock, sku


def outbox(http: httpx.Client, order_id: str, *, emails: int, sms: int = 0, timeout: float = 10.0) -> dict[str, Any]:
    """Poll the local outbox until the expected notices are there (API.md: settles within 10 s)."""
    deadline = time.monotonic() + timeout
    while True:
        box: dict[str, Any] = http.get("/_local/outbox", params={"order_id": order_id}).json()
        if (len(box["emails"]) >= emails and len(box["sms"]) >= sms) or time.monotonic() > deadline:
            time.sleep(0.3)  # a duplicate would arrive about now
            final: dict[str, Any] = http.get("/_local/outbox", params={"order_id": order_id}).json()
            return final


def test_allocation_dispatch_and_their_notices(http: httpx.Client) -> None:
    item = sku()
    put_stock(http, item, "DC-BERLIN", 5, KEYS["dc"])
    order = post_order(http, order_for([{"sku": item, "quantity": 1, "unit_price": "5.00"}]), key()).json()
    done = settled(http, order["order_id"])
    (shipment,) = done["shipments"]
    box = outbox(http, order["order_id"], emails=1)
    (confirmed,) = box["emails"]
    assert confirmed["kind"] == "order_confirmed" and confirmed["to"] == ["ada@example.com"]
    assert confirmed["from"] == "orders@acme.example" and "confirmed" in confirmed["subject"]
    # When the warehouse dispatches (twice: a retry)
    dispatch(http, DC, shipment["shipment_id"], "00340434161094042557")
    dispatch(http, DC, shipment["shipment_id"], "00340434161094042557")
    box = outbox(http, order["order_id"], emails=2, sms=1)
    # Then exactly one dispatch email with the tracking number and exactly one SMS
    dispatched = [m for m in box["emails"] if m["kind"] == "shipment_dispatched"]
    assert len(dispatched) == 1 and "00340434161094042557" in dispatched[0]["text"]
    assert "00340434161094042557" in dispatched[0]["html"]
    (text,) = box["sms"]
    assert text["to"] == ORDER["customer"]["phone"] and "00340434161094042557" in text["text"]
    events = [e["event"] for e in http.get(f"/orders/{order['order_id']}", headers=WEBSHOP).json()["timeline"]]
    assert events.count("NoticeSent") == 3


def test_german_customer_without_phone_is_told_in_german_and_gets_no_sms(http: httpx.Client) -> None:
    item = sku()
    put_stock(http, item, "DC-BERLIN", 5, KEYS["dc"])
    body = order_for([{"sku": item, "quantity": 1, "unit_price": "5.00"}])
    body["customer"] = {"customer_id": "C-7", "email": "grace@example.de", "locale": "de-DE"}
    order = post_order(http, body, key()).json()
    (shipment,) = settled(http, order["order_id"])["shipments"]
    dispatch(http, DC, shipment["shipment_id"], "T-DE-1")
    box = outbox(http, order["order_id"], emails=2)
    assert [m["subject"].split()[0] for m in box["emails"]] == ["Ihre", "Ihre"] and box["sms"] == []
    events = [e["event"] for e in http.get(f"/orders/{order['order_id']}", headers=WEBSHOP).json()["timeline"]]
    assert "NoticeSkipped" in events


def test_backorder_and_cancellation_are_told_once(http: httpx.Client) -> None:
    order = post_order(http, order_for([{"sku": sku(), "quantity": 1, "unit_price": "5.00"}]), key()).json()
    assert settled(http, order["order_id"])["status"] == "BACKORDERED"
    for _ in range(2):  # the second cancel is a harmless repeat
        r = http.post(f"/orders/{order['order_id']}/cancel", json={"reason": "CUSTOMER"}, headers=WEBSHOP)
        assert r.status_code == 200 and r.json()["status"] == "CANCELLED"
    box = outbox(http, order["order_id"], emails=2)
    assert sorted(m["kind"] for m in box["emails"]) == ["order_backordered", "order_cancelled"]


def test_mail_page_shows_the_notices(http: httpx.Client) -> None:
    order = post_order(http, order_for([{"sku": sku(), "quantity": 1, "unit_price": "5.00"}]), key()).json()
    box = outbox(http, order["order_id"], emails=1)
    page = http.get("/_local/mail", params={"order_id": order["order_id"]})
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert box["emails"][0]["subject"] in page.text and "1 email," in page.text
