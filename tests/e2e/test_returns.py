"""Issue 13, authorising returns (API.md "Returns"), as a webshop, a warehouse and an agent see it
through the API: the RMA and where to send it, the order's returns and timeline, the 422s naming
the field (more than dispatched, outside the window, not returnable), the channel's window, a
replayed Idempotency-Key, and six returns of a line of three at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import KEYS
from tests.e2e.orders import key
from tests.e2e.test_allocation import order_for, settled
from tests.e2e.test_capture_api import WEBSHOP, post_order
from tests.e2e.test_fulfilment import DC, STORE, dispatch, requests_of
from tests.e2e.test_inventory_api import put_stock, sku

pytestmark = pytest.mark.timeout(120)

AGENT = {"x-api-key": KEYS["agent"]}
MARKETPLACE = {"x-api-key": KEYS["marketplace"]}


@pytest.fixture
def clock(http: httpx.Client) -> Iterator[httpx.Client]:
    yield http
    assert http.post("/_local/clock", json={"reset": True}).status_code == 200


def dispatched(http: httpx.Client, lines: list[dict[str, Any]]) -> dict[str, Any]:
    """An order of ``lines`` (each SKU stocked at the DC), dispatched by the DC and COMPLETED."""
    for line in lines:
        put_stock(http, line["sku"], "DC-BERLIN", 10, KEYS["dc"])
    order = post_order(http, order_for(lines), key()).json()
    settled(http, order["order_id"])
    (request,) = requests_of(http, DC, order["order_id"])
    assert dispatch(http, DC, request["shipment_id"], f"TRK{order['order_id'][-8:]}").status_code == 200
    deadline = time.monotonic() + 30  # invoiced and its payment captured (API.md: COMPLETED)
    while (done := http.get(f"/orders/{order['order_id']}", headers=WEBSHOP).json())["status"] != "COMPLETED":
        assert time.monotonic() < deadline, done["status"]
        time.sleep(0.1)
    return done


def ask_return(http: httpx.Client, order_id: str, lines: list[dict[str, Any]], headers: dict[str, str] = WEBSHOP,
               **extra: Any) -> httpx.Response:
    return http.post(f"/orders/{order_id}/returns", headers=headers, json={"lines": lines, **extra})


def test_a_dispatched_unit_is_authorised_for_return_to_the_node_that_shipped_it(http: httpx.Client) -> None:
    order = dispatched(http, [{"sku": sku(), "quantity": 2, "unit_price": "10.00"}])
    # When the webshop returns one of the two units as damaged
    r = ask_return(http, order["order_id"], [{"line_id": "1", "quantity": 1, "reason": "DAMAGED"}])
    assert r.status_code == 201, r.text
    ret = r.json()
    assert r.headers["Location"] == f"/returns/{ret['return_id']}"
    assert ret["status"] == "AUTHORIZED" and ret["outcome"] == "REFUND" and ret["order_id"] == order["order_id"]
    assert ret["rma_number"].startswith("RMA-")
    assert ret["lines"] == [{"line_id": "1", "sku": order["lines"][0]["sku"], "quantity": 1, "reason": "DAMAGED",
                             "received": 0}]
    assert ret["return_to"]["node_id"] == "DC-BERLIN" and ret["return_to"]["address"]["city"] == "Berlin"
    # Then the order shows it, with its fact on the timeline; its status is not rewound
    again = http.get(f"/orders/{order['order_id']}", headers=WEBSHOP).json()
    assert again["returns"] == [ret] and again["status"] == order["status"]
    (fact,) = [e for e in again["timeline"] if e["event"] == "ReturnAuthorized"]
    assert fact["detail"]["rma_number"] == ret["rma_number"]
    # the channel, the node it goes to and agents read it; another channel and another node do not
    for headers in (WEBSHOP, DC, AGENT):
        assert http.get(f"/returns/{ret['return_id']}", headers=headers).json() == ret
    for headers in (MARKETPLACE, STORE):
        assert http.get(f"/returns/{ret['return_id']}", headers=headers).status_code == 404
    # and the warehouse lists it among the returns coming to it
    coming: list[dict[str, Any]] = []
    token = None
    while True:
        page = http.get("/returns", headers=DC, params={"status": "AUTHORIZED", "limit": 100,
                                                         **({"next_token": token} if token else {})}).json()
        coming += page["returns"]
        token = page["next_token"]
        if not token:
            break
    assert ret in coming
    assert http.get("/returns", headers=WEBSHOP).status_code == 403


def test_what_cannot_come_back_is_a_422_naming_the_field(http: httpx.Client) -> None:
    item, final_sale = sku(), sku()
    order = dispatched(http, [{"sku": item, "quantity": 2, "unit_price": "10.00"},
                              {"sku": final_sale, "quantity": 1, "unit_price": "5.00", "returnable": False}])
    assert [ln["returnable"] for ln in order["lines"]] == [True, False]
    ok = ask_return(http, order["order_id"], [{"line_id": "1", "quantity": 1, "reason": "CHANGED_MIND"}])
    assert ok.status_code == 201
    cases = [
        ([{"line_id": "1", "quantity": 2, "reason": "OTHER"}], "lines[0].quantity", "at most 1 of line 1"),
        ([{"line_id": "2", "quantity": 1, "reason": "OTHER"}], "lines[0].line_id", "not returnable"),
        ([{"line_id": "9", "quantity": 1, "reason": "OTHER"}], "lines[0].line_id", "no line '9'"),
    ]
    for lines, field, words in cases:
        r = ask_return(http, order["order_id"], lines)
        assert r.status_code == 422, r.text
        problem = r.json()
        assert r.headers["Content-Type"].startswith("application/problem+json")
        assert problem["errors"][0]["field"] == field and words in problem["errors"][0]["message"], problem
    # a bad body is a 422 naming its field, before anything is read
    r = ask_return(http, order["order_id"], [{"line_id": "1", "quantity": 1, "reason": "BORED"}])
    assert r.status_code == 422 and "reason" in r.json()["errors"][0]["field"]
    # nothing of the refused requests was written
    assert len(http.get(f"/orders/{order['order_id']}", headers=WEBSHOP).json()["returns"]) == 1
    # another channel's order does not exist for a channel
    assert ask_return(http, order["order_id"], [{"line_id": "1", "quantity": 1, "reason": "OTHER"}],
                      MARKETPLACE).status_code == 404


def test_the_return_window_closes_30_days_after_dispatch_unless_the_channel_sets_another(clock: httpx.Client
                                                                                       ) -> None:
    http = clock
    order = dispatched(http, [{"sku": sku(), "quantity": 3, "unit_price": "10.00"}])
    line = [{"line_id": "1", "quantity": 1, "reason": "DEFECTIVE"}]
    # When the local clock moves 31 days on
    assert http.post("/_local/clock", json={"advance": "P31D"}).status_code == 200
    r = ask_return(http, order["order_id"], line)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "lines[0].line_id"
    assert "return window" in r.json()["errors"][0]["message"]
    # When the webshop's window is 60 days, the same return is authorised
    channel = "webshop"
    before = http.get(f"/channels/{channel}/settings", headers=AGENT).json()
    try:
        put = http.put(f"/channels/{channel}/settings", headers=AGENT, json={"return_window_days": 60})
        assert put.status_code == 200 and put.json()["return_window_days"] == 60
        assert http.get(f"/channels/{channel}/settings", headers=WEBSHOP).json()["return_window_days"] == 60
        assert http.get(f"/channels/{channel}/settings", headers=MARKETPLACE).status_code == 404
        assert http.put(f"/channels/{channel}/settings", headers=WEBSHOP,
                        json={"return_window_days": 90}).status_code == 403
        bad = http.put(f"/channels/{channel}/settings", headers=AGENT, json={"return_window_days": -1})
        assert bad.status_code == 422 and "return_window_days" in bad.json()["errors"][0]["field"]
        assert ask_return(http, order["order_id"], line).status_code == 201
    finally:
        http.put(f"/channels/{channel}/settings", headers=AGENT,
                 json={"return_window_days": before["return_window_days"]})


def test_a_repeated_request_with_its_idempotency_key_answers_the_same_return(http: httpx.Client) -> None:
    order = dispatched(http, [{"sku": sku(), "quantity": 3, "unit_price": "10.00"}])
    line = [{"line_id": "1", "quantity": 1, "reason": "WRONG_ITEM"}]
    headers = {**WEBSHOP, "Idempotency-Key": key()}
    first = ask_return(http, order["order_id"], line, headers)
    again = ask_return(http, order["order_id"], line, headers)
    assert first.status_code == again.status_code == 201 and again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    other = ask_return(http, order["order_id"], [{**line[0], "quantity": 2}], headers)
    assert other.status_code == 409
    assert len(http.get(f"/orders/{order['order_id']}", headers=WEBSHOP).json()["returns"]) == 1


def test_six_returns_of_one_unit_of_a_line_of_three_at_once_authorise_exactly_three(http: httpx.Client) -> None:
    order = dispatched(http, [{"sku": sku(), "quantity": 3, "unit_price": "10.00"}])
    start = threading.Barrier(6, timeout=20)
    codes: list[int] = []

    def one() -> None:
        with httpx.Client(base_url=str(http.base_url), timeout=60) as own:
            start.wait()
            codes.append(ask_return(own, order["order_id"],
                                    [{"line_id": "1", "quantity": 1, "reason": "CHANGED_MIND"}]).status_code)

    threads = [threading.Thread(target=one) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=90)
    assert sorted(codes) == [201, 201, 201, 422, 422, 422], codes
    returns = http.get(f"/orders/{order['order_id']}", headers=WEBSHOP).json()["returns"]
    assert sum(r["lines"][0]["quantity"] for r in returns) == 3
    assert len({r["return_id"] for r in returns}) == 3 and len({r["rma_number"] for r in returns}) == 3
