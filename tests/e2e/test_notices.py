"""Issue 3, Notify: the customer hears about their order once per event, in their language."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

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
    # the backorder notice goes out after the status is seen: a cancel before it would (rightly)
    # skip it, so the customer is told of the backorder first
    assert [m["kind"] for m in outbox(http, order["order_id"], emails=1)["emails"]] == ["order_backordered"]
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


@pytest.mark.timeout(120)
def test_outbox_shows_what_ses_and_sns_accepted_a_message_sent_twice_twice(http: httpx.Client, aws: Any) -> None:
    # Given an order whose dispatch notice went out (one email + one SMS, each recorded by notify)
    item = sku()
    put_stock(http, item, "DC-BERLIN", 5, KEYS["dc"])
    order = post_order(http, order_for([{"sku": item, "quantity": 1, "unit_price": "5.00"}]), key()).json()
    (shipment,) = settled(http, order["order_id"])["shipments"]
    dispatch(http, DC, shipment["shipment_id"], "T-TWICE-1")
    box = outbox(http, order["order_id"], emails=2, sms=1)
    assert sorted((m["kind"], m["order_id"]) for m in box["emails"]) == [
        ("order_confirmed", order["order_id"]), ("shipment_dispatched", order["order_id"])]
    (text,) = box["sms"]
    assert text["kind"] == "shipment_dispatched" and text["order_id"] == order["order_id"]
    (confirmed,) = (m for m in box["emails"] if m["kind"] == "order_confirmed")
    # When the same confirmation and SMS reach SES and SNS a second time, around notify (as a
    # duplicate send would), and an unrelated message too
    aws("sesv2").send_email(
        FromEmailAddress=confirmed["from"], Destination={"ToAddresses": confirmed["to"]},
        Content={"Simple": {"Subject": {"Data": confirmed["subject"]}, "Body": {
            "Text": {"Data": confirmed["text"]}, "Html": {"Data": confirmed["html"]}}}},
        EmailTags=[{"Name": "order_id", "Value": order["order_id"]}, {"Name": "kind", "Value": "order_confirmed"}])
    aws("sns").publish(PhoneNumber=text["to"], Message=text["text"])
    stray = f"not a notice {key()}"
    aws("sesv2").send_email(FromEmailAddress=confirmed["from"], Destination={"ToAddresses": ["x@example.com"]},
                            Content={"Simple": {"Subject": {"Data": stray}, "Body": {"Text": {"Data": stray}}}})
    # Then the outbox shows each twice, matched to the order and kind
    again = http.get("/_local/outbox", params={"order_id": order["order_id"]}).json()
    twice = [m for m in again["emails"] if m["kind"] == "order_confirmed"]
    assert len(twice) == 2 and twice[0] == twice[1] == confirmed
    assert again["sms"] == [text, text]
    assert len(again["emails"]) == 3
    # and the unrelated message shows too, with no order (it is no notice)
    (other,) = (m for m in http.get("/_local/outbox").json()["emails"] if m["subject"] == stray)
    assert other["order_id"] is None and other["kind"] is None and other["text"] == stray and other["html"] is None


def notify_task(aws: Any, order_id: str, kind: str) -> Any:
    """Run the workflow's Notify task now, as a late delivery or a retry of it would."""
    import json

    (name,) = (f["FunctionName"] for f in aws("lambda").list_functions()["Functions"]
               if f["FunctionName"].endswith("notify-notice"))
    reply = aws("lambda").invoke(FunctionName=name, Payload=json.dumps({"order_id": order_id, "kind": kind}))
    assert "FunctionError" not in reply
    return json.loads(reply["Payload"].read())


def cancel(http: httpx.Client, order_id: str) -> None:
    r = http.post(f"/orders/{order_id}/cancel", json={"reason": "CUSTOMER"}, headers=WEBSHOP)
    assert r.status_code == 200 and r.json()["status"] == "CANCELLED"


@pytest.mark.timeout(120)
def test_a_cancelled_order_never_gets_its_confirmation_even_when_the_cancel_lands_first(
        http: httpx.Client, aws: Any) -> None:
    # Given an order that is cancelled before any confirmation was claimed for it
    order = post_order(http, order_for([{"sku": sku(), "quantity": 1, "unit_price": "5.00"}]), key()).json()
    assert settled(http, order["order_id"])["status"] == "BACKORDERED"
    outbox(http, order["order_id"], emails=1)  # the backorder notice is out (a cancel before it skips it)
    cancel(http, order["order_id"])
    outbox(http, order["order_id"], emails=2)  # the backorder and cancellation notices are out
    # When a confirmation for it runs after the cancel (a late or retried Notify task), twice
    first = notify_task(aws, order["order_id"], "order_confirmed")
    second = notify_task(aws, order["order_id"], "order_confirmed")
    # Then SES never accepted one: the outbox holds only what applies to a cancelled order
    assert first["notices"] == [{"channel": "email", "result": "skipped"}]
    assert second["notices"] == [{"channel": "email", "result": "already"}]
    box = outbox(http, order["order_id"], emails=3, timeout=1.0)
    assert sorted(m["kind"] for m in box["emails"]) == ["order_backordered", "order_cancelled"]
    # and the timeline says once why the customer was not told
    timeline = http.get(f"/orders/{order['order_id']}", headers=WEBSHOP).json()["timeline"]
    skipped = [e["detail"] for e in timeline if e["event"] == "NoticeSkipped"]
    assert skipped == [{"kind": "order_confirmed", "channel": "email", "reason": "order cancelled"}]


@pytest.mark.timeout(120)
def test_a_confirmation_sent_before_the_cancel_stays_the_only_one(http: httpx.Client, aws: Any) -> None:
    # Given a confirmed order (its confirmation was true when it was sent), then cancelled
    item = sku()
    put_stock(http, item, "DC-BERLIN", 5, KEYS["dc"])
    order = post_order(http, order_for([{"sku": item, "quantity": 1, "unit_price": "5.00"}]), key()).json()
    assert settled(http, order["order_id"])["status"] == "IN_FULFILLMENT"
    outbox(http, order["order_id"], emails=1)
    cancel(http, order["order_id"])
    # When the Notify task runs again after the cancel
    assert notify_task(aws, order["order_id"], "order_confirmed")["notices"] == [
        {"channel": "email", "result": "already"}]
    # Then the customer has the one confirmation and the cancellation, nothing more
    box = outbox(http, order["order_id"], emails=2)
    assert sorted(m["kind"] for m in box["emails"]) == ["order_cancelled", "order_confirmed"]
    timeline = http.get(f"/orders/{order['order_id']}", headers=WEBSHOP).json()["timeline"]
    assert [e["event"] for e in timeline].count("NoticeSkipped") == 0
