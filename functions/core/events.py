"""Domain event envelope published on the event bus.

``detail = {"metadata": {...}, "data": {...}}``; ``source`` names the capability that owns
the fact (``oms.capture``) and ``detail-type`` the past-tense event name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from . import clock
from .ids import new_id

SCHEMA_VERSION = "1"


def stamp(moment: datetime) -> str:
    """``moment`` (aware) as every time in the table is written: UTC ISO 8601 with milliseconds
    and a ``Z``, so that times sort as text."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def instant(text: str) -> datetime:
    """A time as ``stamp`` writes it (or any ISO 8601 time; one without an offset is taken as
    UTC), as an aware UTC datetime."""
    moment = datetime.fromisoformat(text)
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).astimezone(UTC)


def utc_now() -> str:
    """Now, as ``stamp`` writes it (``clock.now``: moved forward only by the local stack's
    ``/_local/clock``)."""
    return stamp(clock.now())


def after(at: str, seconds: float) -> str:
    """``at`` (as ``utc_now`` writes it) plus ``seconds``, in the same shape."""
    return stamp(instant(at) + timedelta(seconds=seconds))


@dataclass(frozen=True)
class DomainEvent:
    name: str
    source: str
    data: dict[str, Any]
    event_id: str = field(default_factory=lambda: new_id("evt"))
    occurred_at: str = field(default_factory=utc_now)
    correlation_id: str | None = None

    def detail(self) -> dict[str, Any]:
        return {
            "metadata": {
                "event_id": self.event_id,
                "occurred_at": self.occurred_at,
                "version": SCHEMA_VERSION,
                "correlation_id": self.correlation_id,
            },
            "data": self.data,
        }
