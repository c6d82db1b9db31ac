"""Paging tokens are the API's own: a forged, edited or foreign next_token is a 400, never a 5xx
and never a page of somebody else's data (issue 10)."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from tests.e2e.conftest import KEYS
from tests.e2e.orders import key, new_order
from tests.e2e.test_capture_api import WEBSHOP, post_order

MARKETPLACE = {"x-api-key": KEYS["marketplace"]}
DC = {"x-api-key": KEYS["dc"]}


def _payload(token: str) -> dict[str, object]:
    part = token.partition(".")[0]
    decoded: dict[str, object] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


def _encoded(payload: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.fixture(scope="module")
def webshop_token(http: httpx.Client) -> str:
    for _ in range(2):
        assert post_order(http, new_order(), key()).status_code == 201
    page = http.get("/orders", headers=WEBSHOP, params={"limit": 1}).json()
    assert page["next_token"], page
    return str(page["next_token"])


def test_an_issued_token_pages_on(http: httpx.Client, webshop_token: str) -> None:
    first = http.get("/orders", headers=WEBSHOP, params={"limit": 1}).json()["orders"][0]
    second = http.get("/orders", headers=WEBSHOP, params={"limit": 1, "next_token": webshop_token})
    assert second.status_code == 200 and second.json()["orders"][0]["order_id"] != first["order_id"]


def test_forged_and_edited_tokens_are_400(http: httpx.Client, webshop_token: str) -> None:
    signature = webshop_token.partition(".")[2]
    # the webshop's own token re-pointed at the marketplace's orders, signature kept
    repointed = {**_payload(webshop_token), "GSI1PK": "CHANNEL#marketplace"}
    forged = [
        f"{_encoded(repointed)}.{signature}",
        _encoded(_payload(webshop_token)),  # the unsigned form
        _encoded({"PK": {"nested": "x"}, "GSI1PK": "CHANNEL#webshop"}) + "." + signature,  # an invalid start key
        "not-a-token",
        webshop_token[:-2] + ("AA" if not webshop_token.endswith("AA") else "BB"),
    ]
    for token in forged:
        r = http.get("/orders", headers=WEBSHOP, params={"limit": 1, "next_token": token})
        assert r.status_code == 400, (token, r.status_code, r.text)
        assert r.headers["Content-Type"].startswith("application/problem+json")
        assert "next_token" in r.json()["detail"]


def test_another_channels_token_is_400(http: httpx.Client, webshop_token: str) -> None:
    r = http.get("/orders", headers=MARKETPLACE, params={"limit": 1, "next_token": webshop_token})
    assert r.status_code == 400 and "next_token" in r.json()["detail"]


def test_a_node_listing_refuses_forged_and_foreign_tokens(http: httpx.Client, webshop_token: str) -> None:
    for token in (webshop_token, "forged." + webshop_token.partition(".")[2]):
        r = http.get("/shipments", headers=DC, params={"status": "REQUESTED", "next_token": token})
        assert r.status_code == 400, r.text
