"""Paging tokens are signed: only a token this API issued, for this listing, is accepted."""

from __future__ import annotations

import base64
import json

import pytest

from functions.core.adapters import paging
from functions.core.adapters.dynamodb import to_item
from functions.core.errors import BadRequest

LAST_KEY = to_item({"PK": "ORDER#ord_1", "SK": "HEADER", "GSI1PK": "CHANNEL#webshop", "GSI1SK": "2026-11-30"})


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paging, "signing_key", lambda: b"k" * 32)


def test_a_token_comes_back_as_the_start_key_it_was_issued_for() -> None:
    token = paging.encode_token(LAST_KEY)
    assert token is not None
    assert paging.decode_token(token, index_pk="GSI1PK", partition="CHANNEL#webshop") == LAST_KEY
    assert paging.encode_token(None) is None and paging.decode_token(None, index_pk="GSI1PK", partition="x") is None


def test_an_edited_or_unsigned_token_is_refused() -> None:
    token = paging.encode_token(LAST_KEY) or ""
    payload, _, signature = token.partition(".")
    # the same key pointed at another channel's partition, keeping the signature
    forged = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged["GSI1PK"] = "CHANNEL#marketplace"
    edited = base64.urlsafe_b64encode(json.dumps(forged).encode()).decode().rstrip("=")
    for bad in (f"{edited}.{signature}", payload, f"{payload}.", f"{payload}.{'A' * len(signature)}", "x.y.z", "%%%",
                f"{payload}.é", "é.é", f"{payload}.\u0000", f"{payload}.\ud800", "\udcff.x"):
        with pytest.raises(BadRequest, match="not a token this API issued"):
            paging.decode_token(bad, index_pk="GSI1PK", partition="CHANNEL#marketplace")


def test_a_token_of_another_listing_is_refused_even_when_signed() -> None:
    token = paging.encode_token(LAST_KEY)
    with pytest.raises(BadRequest, match="does not belong to this listing"):
        paging.decode_token(token, index_pk="GSI1PK", partition="CHANNEL#marketplace")


def test_a_token_signed_with_another_key_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    token = paging.encode_token(LAST_KEY)
    monkeypatch.setattr(paging, "signing_key", lambda: b"rotated" * 8)
    with pytest.raises(BadRequest):
        paging.decode_token(token, index_pk="GSI1PK", partition="CHANNEL#webshop")
