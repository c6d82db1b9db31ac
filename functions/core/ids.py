"""Prefixed, sortable, unguessable identifiers: ``<prefix>_<ULID>``.

A ULID is 48 bits of milliseconds since the epoch followed by 80 random bits, written in
Crockford base32 (26 characters). Ids sort by creation time, which keeps listings and
timelines ordered without another attribute, and the random part makes them unguessable.
"""

from __future__ import annotations

import secrets
import threading
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


_last = [0]  # the last value this process made (monotonic ULIDs, see ulid())
_lock = threading.Lock()


def ulid(timestamp_ms: int | None = None, *, monotonic: bool = False) -> str:
    """A ULID. ``monotonic``: greater than every monotonic one this process made before (the
    ULID spec's monotonic mode: in the same millisecond, the previous plus one), so things made
    one after another — a write's timeline entries — sort in that order. Ids that must stay
    unguessable (orders, shipments) are never monotonic: their random part is fresh."""
    ms = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    value = (ms << 80) | secrets.randbits(80)
    if monotonic:
        with _lock:
            value = max(value, _last[0] + 1)
            _last[0] = value
    return _encode(value)


def _encode(value: int) -> str:
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_id(prefix: str) -> str:
    """``new_id("ord")`` → ``ord_01JD…`` (prefix names the kind of thing)."""
    return f"{prefix}_{ulid()}"


def order_execution_name(order_id: str) -> str:
    """The name of a new workflow execution of the order: the order id and the random part of a
    fresh ULID. The name is the token Reserve and Backorder record (``accepted_by``), so two
    executions of one order never share it, and an operator finds an order's executions by it."""
    return f"{order_id}-{new_id('x')[-12:]}"
