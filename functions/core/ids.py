"""Prefixed, sortable, unguessable identifiers: ``<prefix>_<ULID>``.

A ULID is 48 bits of milliseconds since the epoch followed by 80 random bits, written in
Crockford base32 (26 characters). Ids sort by creation time, which keeps listings and
timelines ordered without another attribute, and the random part makes them unguessable.
"""

from __future__ import annotations

import secrets
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def ulid(timestamp_ms: int | None = None) -> str:
    ms = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    value = (ms << 80) | secrets.randbits(80)
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_id(prefix: str) -> str:
    """``new_id("ord")`` → ``ord_01JD…`` (prefix names the kind of thing)."""
    return f"{prefix}_{ulid()}"
