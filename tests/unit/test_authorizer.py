"""The REQUEST authorizer's answers, as API Gateway reads them."""

from __future__ import annotations

from typing import Any

import pytest

from functions.access.handlers import authorizer
from functions.access.keys import KeyManager, hash_key
from tests.unit.test_access_keys import MemoryGateway, MemoryStore
from tests.unit.test_http_errors import Context

METHOD_ARN = "arn:aws:execute-api:eu-central-1:123456789012:api123/v1/GET/orders"


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> MemoryStore:
    store = MemoryStore()
    manager = KeyManager(store, MemoryGateway())
    manager.issue("channel", "webshop", value="local-webshop-key")
    manager.issue("agent", "agent-1", value="old-agent-key")
    manager.disable("old-agent-key")
    _, rotated = manager.issue("finance", "fin-1", value="rotated-finance-key")
    store.set_not_after(rotated.key_hash, "2020-01-01T00:00:00.000Z")  # its rotation's grace is over
    monkeypatch.setattr(authorizer, "authorizer_store", lambda: store)
    return store


def authorize(headers: dict[str, str]) -> dict[str, Any]:
    event = {"type": "REQUEST", "methodArn": METHOD_ARN, "resource": "/orders", "path": "/orders",
             "httpMethod": "GET", "headers": headers, "requestContext": {"apiId": "api123", "stage": "v1"}}
    result: dict[str, Any] = authorizer.lambda_handler(event, Context())
    return result


def test_known_key_is_allowed_on_the_whole_api_with_role_context(store: MemoryStore) -> None:
    result = authorize({"X-Api-Key": "local-webshop-key"})
    statement = result["policyDocument"]["Statement"][0]
    assert statement["Effect"] == "Allow"
    assert statement["Resource"] == ["arn:aws:execute-api:eu-central-1:123456789012:api123/v1/*/*"]
    assert result["context"] == {"role": "channel", "principal_id": "webshop"}
    assert result["principalId"] == "webshop"
    assert result["usageIdentifierKey"] == hash_key("local-webshop-key")  # never the key itself


@pytest.mark.parametrize("value", ["not-a-key", "old-agent-key", "rotated-finance-key"])
def test_unknown_disabled_or_expired_key_is_denied(store: MemoryStore, value: str) -> None:
    result = authorize({"x-api-key": value})
    assert result["policyDocument"]["Statement"][0]["Effect"] == "Deny"
    assert "context" not in result or not result.get("context")


def test_missing_key_is_unauthorized(store: MemoryStore) -> None:
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorize({})
