"""``/_local/clock`` (API.md, "Local"): the use cases' clock moved forward on a running local
stack — seen where a user meets time: a rotated key's grace runs out — and back to real time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from tests.e2e.test_oms_cli import issued_key, oms, orders_status, port_of

pytestmark = pytest.mark.timeout(120)


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture
def clock(http: httpx.Client) -> Iterator[httpx.Client]:
    http.post("/_local/settle", timeout=60)  # nothing of an earlier test is written in moved time
    yield http
    assert http.post("/_local/clock", json={"reset": True}).status_code == 200


def test_the_clock_moves_forward_shows_it_and_goes_back(clock: httpx.Client) -> None:
    shown = clock.get("/_local/clock").json()
    assert shown["offset_seconds"] == 0 and abs((_at(shown["now"]) - datetime.now(UTC)).total_seconds()) < 5
    moved = clock.post("/_local/clock", json={"advance": "P31D"})
    assert moved.status_code == 200 and moved.json()["offset"] == "P31D"
    again = clock.post("/_local/clock", json={"advance": "PT1H30M"}).json()
    assert again["offset_seconds"] == 31 * 86400 + 5400
    assert abs((_at(again["now"]) - datetime.now(UTC)).total_seconds() - again["offset_seconds"]) < 5
    back = clock.post("/_local/clock", json={"reset": True}).json()
    assert back["offset_seconds"] == 0


@pytest.mark.parametrize(("body", "status"), [
    ({"advance": "-P1D"}, 422), ({"advance": "P0D"}, 422), ({"advance": "a month"}, 422), ({"advance": 31}, 422),
    ({"advance": "P40000D"}, 422), ({}, 422), (["P1D"], 422)])
def test_a_duration_it_cannot_take_is_refused_naming_the_field(clock: httpx.Client, body: object,
                                                              status: int) -> None:
    r = clock.post("/_local/clock", json=body)
    assert r.status_code == status and r.headers["Content-Type"] == "application/problem+json"
    assert r.json()["errors"][0]["field"] == "advance"
    assert clock.get("/_local/clock").json()["offset_seconds"] == 0  # nothing moved


def test_a_body_not_json_is_a_400(clock: httpx.Client) -> None:
    r = clock.post("/_local/clock", content=b"P1D", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.headers["Content-Type"] == "application/problem+json"


def test_a_rotated_key_stops_working_when_the_clock_passes_its_grace(stack: str, clock: httpx.Client) -> None:
    # Given a shop's key rotated with the default grace of 24 hours: both keys work
    old = issued_key(oms("keys", "issue", "--role", "channel", "--principal", "e2e-clock", port=port_of(stack)))
    new = issued_key(oms("keys", "rotate", "--principal", "e2e-clock", port=port_of(stack)))
    assert orders_status(clock, old) == 200 and orders_status(clock, new) == 200
    # When a day and an hour pass on the local clock
    assert clock.post("/_local/clock", json={"advance": "PT25H"}).status_code == 200
    # Then the old key is refused and the new one works
    assert orders_status(clock, old) == 403 and orders_status(clock, new) == 200
    # And back in real time the old key is inside its grace again
    clock.post("/_local/clock", json={"reset": True})
    assert orders_status(clock, old) == 200
