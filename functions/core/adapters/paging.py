"""Paging tokens of the listings (orders, a node's shipments): the index's
``LastEvaluatedKey``, base64url JSON, checked on the way back in so a token is only ever
accepted by the listing that issued it."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from functions.core.errors import BadRequest

from .dynamodb import from_item, to_item


def encode_token(last_key: dict[str, Any] | None) -> str | None:
    if not last_key:
        return None
    return base64.urlsafe_b64encode(json.dumps(from_item(last_key)).encode()).decode().rstrip("=")


def decode_token(token: str | None, *, index_pk: str, partition: str) -> dict[str, Any] | None:
    """The ``ExclusiveStartKey`` of ``token``, or BadRequest (400) when it was not issued by a
    listing of ``partition``."""
    if not token:
        return None
    try:
        raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, binascii.Error) as exc:
        raise BadRequest("next_token is not a token this API issued") from exc
    if not isinstance(raw, dict) or raw.get(index_pk) != partition:
        raise BadRequest("next_token does not belong to this listing")
    return to_item(raw)
