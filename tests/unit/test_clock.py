"""The use cases' clock (functions/core/clock.py): real time, moved only forward, reset."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from functions.core import clock
from functions.core.events import utc_now

pytestmark = pytest.mark.timeout(10)


@pytest.fixture(autouse=True)
def real_time() -> Iterator[None]:
    clock.reset()
    yield
    clock.reset()


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_it_is_real_time_until_moved() -> None:
    assert abs((clock.now() - datetime.now(UTC)).total_seconds()) < 1
    assert abs((_utc(utc_now()) - datetime.now(UTC)).total_seconds()) < 1


def test_advancing_moves_every_reader_forward_and_adds_up() -> None:
    clock.advance(timedelta(days=31))
    assert clock.advance(timedelta(hours=2)) == timedelta(days=31, hours=2)
    ahead = _utc(utc_now()) - datetime.now(UTC)
    assert timedelta(days=31, hours=2) - timedelta(seconds=1) < ahead < timedelta(days=31, hours=2, seconds=1)


def test_it_never_moves_back_and_reset_returns_to_real_time() -> None:
    clock.advance(timedelta(minutes=5))
    with pytest.raises(ValueError, match="forward"):
        clock.advance(timedelta(seconds=-1))
    assert clock.offset() == timedelta(minutes=5)
    clock.reset()
    assert clock.offset() == timedelta(0)
