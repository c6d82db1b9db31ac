"""Paging tokens of the listings (orders, a node's shipments, nodes): the index's
``LastEvaluatedKey`` as base64url JSON, signed with HMAC-SHA256, and checked on the way back in so
a token is only ever accepted by the listing that issued it.

Unsigned, a token would let a caller send DynamoDB any start key it likes (on AWS an invalid one is
a ValidationException, a 500; a valid one of another partition could page through data that is
not the caller's). The key is the value of the Secrets Manager secret named by
``PAGING_KEY_SECRET`` (infra/constructs/data.py; locally a fixed one), read at the first listing
through Powertools Parameters, which caches it for the container (``max_age``), so the happy
path of an order never pays for it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

from functions.core.errors import BadRequest
from functions.core.settings import settings

from .aws import secret
from .dynamodb import from_item, to_item

#: How long a container keeps the key before reading it again (a rotation applies within this).
KEY_MAX_AGE_SECONDS = 3600
#: 128 bits of HMAC-SHA256: a forgery is a 2^-128 guess.
SIGNATURE_BYTES = 16


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def signing_key() -> bytes:
    """The paging key, from Secrets Manager on first use and cached by Powertools."""
    name = settings().paging_key_secret
    if not name:
        raise RuntimeError("PAGING_KEY_SECRET is not set: listings cannot sign their paging tokens")
    value = secret(name, max_age=KEY_MAX_AGE_SECONDS)
    return value.encode() if isinstance(value, str) else bytes(value)


def _signature(payload: str, key: bytes) -> str:
    return _b64(hmac.new(key, f"oms-paging-v1.{payload}".encode(), hashlib.sha256).digest()[:SIGNATURE_BYTES])


def encode_token(last_key: dict[str, Any] | None) -> str | None:
    if not last_key:
        return None
    payload = _b64(json.dumps(from_item(last_key), separators=(",", ":")).encode())
    return f"{payload}.{_signature(payload, signing_key())}"


def decode_token(token: str | None, *, index_pk: str, partition: str) -> dict[str, Any] | None:
    """The ``ExclusiveStartKey`` of ``token``, or BadRequest (400) when this API did not issue it
    (a bad signature) or issued it for another listing than ``partition``."""
    if not token:
        return None
    payload, _, signature = token.partition(".")
    # ASCII only (what this API issues): compare_digest refuses other text, and a lone surrogate
    # cannot even be encoded — each a TypeError or UnicodeEncodeError, not a 400
    if not token.isascii() or not signature or \
            not hmac.compare_digest(signature.encode(), _signature(payload, signing_key()).encode()):
        raise BadRequest("next_token is not a token this API issued")
    try:
        raw = json.loads(_unb64(payload))
    except (ValueError, binascii.Error) as exc:  # signed but unreadable: a token of another version
        raise BadRequest("next_token is not a token this API issued") from exc
    if not isinstance(raw, dict) or raw.get(index_pk) != partition:
        raise BadRequest("next_token does not belong to this listing")
    return to_item(raw)
