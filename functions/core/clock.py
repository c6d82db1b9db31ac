"""The use cases' clock: real UTC time, moved forward only on the local stack.

Every use case reads the time through :func:`now` (``events.utc_now`` and the callables a
service takes for its clock), so return windows, due dates and ageing, SLAs, the reconciler's
thresholds, notice leases and key expiry all follow it. Nothing deployed moves it: the local
cloud's ``POST /_local/clock`` (``localcloud/clock.py``) calls :func:`advance` in the process
where the local functions run. Identifiers (``ids.new_id``), DynamoDB TTL and the idempotency
records keep real time.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

_lock = threading.Lock()
_offset = timedelta(0)


def now() -> datetime:
    """The current UTC time, plus however far the local clock was moved."""
    return datetime.now(UTC) + _offset


def offset() -> timedelta:
    return _offset


def advance(by: timedelta) -> timedelta:
    """Move the clock forward by ``by`` (never back: time in the table only grows); returns the
    whole offset from real time."""
    global _offset
    if by < timedelta(0):
        raise ValueError("the clock only moves forward")
    with _lock:
        _offset += by
        return _offset


def reset() -> None:
    """Back to real time."""
    global _offset
    with _lock:
        _offset = timedelta(0)
