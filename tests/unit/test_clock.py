"""The use cases' clock (functions/core/clock.py): real time, moved only forward, reset; and the
one shape every time in the table is written and read in (functions/core/events.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest

from functions.core import clock
from functions.core.events import after, instant, stamp, utc_now

pytestmark = pytest.mark.timeout(10)


@pytest.fixture(autouse=True)
def real_time() -> Iterator[None]:
    clock.reset()
    yield
    clock.reset()


def test_it_is_real_time_until_moved() -> None:
    assert abs((clock.now() - datetime.now(UTC)).total_seconds()) < 1
    assert abs((instant(utc_now()) - datetime.now(UTC)).total_seconds()) < 1


def test_advancing_moves_every_reader_forward_and_adds_up() -> None:
    clock.advance(timedelta(days=31))
    assert clock.advance(timedelta(hours=2)) == timedelta(days=31, hours=2)
    ahead = instant(utc_now()) - datetime.now(UTC)
    assert timedelta(days=31, hours=2) - timedelta(seconds=1) < ahead < timedelta(days=31, hours=2, seconds=1)


def test_it_never_moves_back_and_reset_returns_to_real_time() -> None:
    clock.advance(timedelta(minutes=5))
    with pytest.raises(ValueError, match="forward"):
        clock.advance(timedelta(seconds=-1))
    assert clock.offset() == timedelta(minutes=5)
    clock.reset()
    assert clock.offset() == timedelta(0)


def test_a_time_is_written_in_utc_with_milliseconds_and_read_back_as_the_same_instant() -> None:
    berlin = datetime(2026, 12, 31, 23, 30, 0, 123456, tzinfo=timezone(timedelta(hours=1)))
    written = stamp(berlin)
    assert written == "2026-12-31T22:30:00.123Z"
    assert instant(written) == berlin.replace(microsecond=123000)
    assert instant(written).tzinfo == UTC
    # a time without an offset is taken as UTC; one with an offset is moved to UTC
    assert instant("2026-12-31T22:30:00") == datetime(2026, 12, 31, 22, 30, tzinfo=UTC)
    assert instant("2027-01-01T00:30:00+02:00") == datetime(2026, 12, 31, 22, 30, tzinfo=UTC)
    # written times sort as text as they sort in time, across a day and a year
    assert after(written, 5400) == "2027-01-01T00:00:00.123Z" > written
