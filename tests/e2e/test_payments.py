"""Payments on the local stack, as a webshop, a warehouse and finance see them through the API:
a free gift shipped after the priced shipment completes its order, and a declined capture puts
the order on finance's review list with a short reason that the webshop never sees."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import KEYS
from tests.e2e.test_allocation import AGENT
from tests.e2e.test_capture_api import WEBSHOP
from tests.e2e.test_fulfilment import DC, STORE, dispatch, requests_of
from tests.e2e.test_inventory_api import put_stock, sku
from tests.e2e.test_invoicing import events, finished, placed

FINANCE = {"x-api-key": KEYS["finance"]}
#: What must never reach a channel: internal error names and texts, any trace of a stack.
INTERNAL = ("PaymentDeclined", "card_declined", "Traceback", "stackTrace", 'File "', "errorMessage", ".py")


def until(http: httpx.Client, order_id: str, done: Any, headers: dict[str, str] = FINANCE,
          timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        order: dict[str, Any] = http.get(f"/orders/{order_id}", headers=headers).json()
        if done(order) or time.monotonic() > deadline:
            return order
        time.sleep(0.1)


@pytest.mark.timeout(90)
def test_a_free_gift_shipped_after_the_priced_shipment_completes_the_order(http: httpx.Client) -> None:
    mug, gift = sku(), sku()
    put_stock(http, mug, "DC-BERLIN", 1, KEYS["dc"])
    put_stock(http, gift, "STORE-MUNICH", 1, KEYS["store"])
    order = placed(http, [{"sku": mug, "quantity": 1, "unit_price": "20.00"},
                          {"sku": gift, "quantity": 1, "unit_price": "0.00"}])
    assert len(order["shipments"]) == 2
    order_id = order["order_id"]
    (priced,) = requests_of(http, DC, order_id)
    assert dispatch(http, DC, priced["shipment_id"], "TRK-PRICED").status_code == 200
    first = until(http, order_id, lambda o: o["invoices"] and o["invoices"][0]["payment_status"] == "CAPTURED")
    assert first["status"] == "PARTIALLY_SHIPPED" and first["invoices"][0]["total"] == first["totals"]["total"]
    (free,) = requests_of(http, STORE, order_id)  # the gift, shipped on its own, later
    assert dispatch(http, STORE, free["shipment_id"], "TRK-GIFT").status_code == 200
    done = finished(http, order_id, headers=FINANCE)
    assert done["status"] == "COMPLETED", (done["status"], done["finance_review"], done["invoices"])
    gift_invoice = next(i for i in done["invoices"] if i["shipment_id"] == free["shipment_id"])
    assert (gift_invoice["total"], gift_invoice["payment_status"]) == ("0.00", "CAPTURED")
    assert sum(Decimal(i["total"]) for i in done["invoices"]) == Decimal(done["totals"]["total"])
    (captured,) = events(done, "PaymentCaptured")  # one capture: nothing was asked of the provider for 0.00
    assert captured["detail"]["amount"] == done["totals"]["total"]
    assert done["finance_review"] == [] and len(events(done, "OrderCompleted")) == 1


def dispatched_one_line(http: httpx.Client, authorization_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A one-line card order paid with ``authorization_id`` (a local payment reference, API.md),
    requested from DC-BERLIN and dispatched: its capture follows."""
    item = sku()
    put_stock(http, item, "DC-BERLIN", 1, KEYS["dc"])
    order = placed(http, [{"sku": item, "quantity": 1, "unit_price": "10.00"}],
                   payment={"method": "card", "authorization_id": authorization_id, "amount": "99.00"})
    (request,) = requests_of(http, DC, order["order_id"])
    assert dispatch(http, DC, request["shipment_id"], f"TRK-{authorization_id}").status_code == 200
    return order, request


@pytest.mark.timeout(90)
def test_a_capture_that_fails_transiently_is_retried_and_completes_the_order(http: httpx.Client) -> None:
    order, _ = dispatched_one_line(http, "auth_flaky_503")
    # two transient failures: the workflow retries after 1 s, then 2 s
    done = finished(http, order["order_id"], headers=FINANCE, timeout=20)
    assert done["status"] == "COMPLETED" and done["finance_review"] == []
    assert len(events(done, "PaymentCaptured")) == 1 and done["invoices"][0]["payment_status"] == "CAPTURED"


@pytest.mark.timeout(90)
def test_a_declined_capture_is_on_finances_list_and_the_webshop_sees_no_error_text(http: httpx.Client) -> None:
    order, request = dispatched_one_line(http, "auth_decline_expired")
    order_id = order["order_id"]

    # finance: the order is on its review list, with a short reason and no stack trace
    flagged = until(http, order_id, lambda o: o["finance_review"])
    (review,) = flagged["finance_review"]
    assert review["shipment_id"] == request["shipment_id"] and review["reason"] == "PaymentDeclined"
    assert review["error"].startswith("card_declined") and len(review["error"]) <= 300
    assert not any(marker in review["error"] for marker in ("Traceback", 'File "', "stackTrace", "\n"))
    assert flagged["invoices"][0]["payment_status"] == "FAILED" and flagged["status"] == "SHIPPED"
    assert until(http, order_id, lambda o: o["finance_review"], headers=AGENT)["finance_review"] == [review]

    # the webshop: the order as it stands, none of the why
    view = http.get(f"/orders/{order_id}", headers=WEBSHOP)
    assert view.status_code == 200
    body = view.json()
    assert body["status"] == "SHIPPED" and body["finance_review"] == []
    assert events(body, "FinanceReviewRequired")  # the fact is in its timeline, the reason is not
    assert not [marker for marker in INTERNAL if marker in view.text], view.text
    listing = http.get("/orders", headers=WEBSHOP, params={"limit": 100})
    assert listing.status_code == 200 and order_id in {o["order_id"] for o in listing.json()["orders"]}
    assert not [marker for marker in INTERNAL if marker in listing.text]
    assert not [marker for marker in INTERNAL if marker in json.dumps(body["timeline"])]
