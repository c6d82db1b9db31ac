"""DynamoDB's item responses written as JSON at once (localcloud.patches.dynamodb_responses) are
the responses moto's own serializer writes: the same requests, on generated items of every
attribute type, are answered with the patch and without it, and the raw bodies compared."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto.core.serialize import ResponseSerializer

from localcloud.patches import dynamodb_responses
from tests.localcloud.support import client

TABLE = "responses"

_names = st.text(alphabet="abcdefgh", min_size=1, max_size=4)
_scalars = st.one_of(
    st.text(max_size=12).map(lambda s: s or "x"),
    st.decimals(min_value=-10**6, max_value=10**6, places=3, allow_nan=False, allow_infinity=False),
    st.binary(min_size=1, max_size=12),
    st.booleans(),
    st.none(),
    st.frozensets(st.text(min_size=1, max_size=5), min_size=1, max_size=3).map(set),
    st.frozensets(st.integers(-99, 99).map(Decimal), min_size=1, max_size=3).map(set),
    st.frozensets(st.binary(min_size=1, max_size=5), min_size=1, max_size=3).map(set),
)
_values = st.recursive(_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(_names, inner, max_size=3)), max_leaves=8)
_items = st.lists(st.dictionaries(_names, _values, max_size=5), min_size=1, max_size=6)


def _requests(items: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every item action, with the options that shape its answer."""
    for n, attributes in enumerate(items):
        yield "put_item", {"Item": {"PK": "P", "SK": f"{n:03}", **attributes}, "ReturnValues": "ALL_OLD",
                           "ReturnConsumedCapacity": "TOTAL"}
    yield "put_item", {"Item": {"PK": "P", "SK": "000", "b": b"\x00\xff"}, "ReturnValues": "ALL_OLD"}
    yield "get_item", {"Key": {"PK": "P", "SK": "001"}, "ConsistentRead": True}
    yield "get_item", {"Key": {"PK": "P", "SK": "999"}}
    yield "get_item", {"Key": {"PK": "P", "SK": "000"}, "ProjectionExpression": "PK, b"}
    yield "update_item", {"Key": {"PK": "P", "SK": "002"}, "UpdateExpression": "SET v = :v ADD c :one",
                          "ExpressionAttributeValues": {":v": b"new", ":one": 1}, "ReturnValues": "ALL_NEW",
                          "ReturnConsumedCapacity": "INDEXES"}
    yield "update_item", {"Key": {"PK": "P", "SK": "003"}, "UpdateExpression": "SET v = :v",
                          "ExpressionAttributeValues": {":v": {"m": [1, "two"]}}, "ReturnValues": "UPDATED_OLD"}
    yield "update_item", {"Key": {"PK": "P", "SK": "004"}, "UpdateExpression": "SET v = :v",
                          "ExpressionAttributeValues": {":v": "x"}}
    yield "query", {"KeyConditionExpression": "PK = :p", "ExpressionAttributeValues": {":p": "P"}, "Limit": 2,
                    "ReturnConsumedCapacity": "TOTAL"}
    yield "query", {"KeyConditionExpression": "PK = :p", "ExpressionAttributeValues": {":p": "P"},
                    "ScanIndexForward": False, "Select": "COUNT"}
    yield "query", {"KeyConditionExpression": "PK = :p", "ExpressionAttributeValues": {":p": "nobody"}}
    yield "scan", {"Limit": 3}
    yield "batch_get_item", {"RequestItems": {TABLE: {"Keys": [{"PK": "P", "SK": f"{n:03}"} for n in range(4)]}},
                             "ReturnConsumedCapacity": "TOTAL"}
    yield "transact_get_items", {"TransactItems": [{"Get": {"TableName": TABLE, "Key": {"PK": "P", "SK": s}}}
                                                   for s in ("000", "001", "999")]}
    yield "transact_write_items", {"TransactItems": [
        {"Put": {"TableName": TABLE, "Item": {"PK": "T", "SK": "1", "b": b"\x01"}}},
        {"Update": {"TableName": TABLE, "Key": {"PK": "P", "SK": "000"}, "UpdateExpression": "SET t = :t",
                    "ExpressionAttributeValues": {":t": True}}}], "ReturnConsumedCapacity": "TOTAL"}
    yield "batch_write_item", {"RequestItems": {TABLE: [
        {"PutRequest": {"Item": {"PK": "B", "SK": "1", "s": {"a", "b"}}}},
        {"DeleteRequest": {"Key": {"PK": "P", "SK": "005"}}}]}, "ReturnConsumedCapacity": "TOTAL"}
    yield "delete_item", {"Key": {"PK": "P", "SK": "001"}, "ReturnValues": "ALL_OLD"}
    yield "delete_item", {"Key": {"PK": "P", "SK": "999"}, "ReturnValues": "ALL_OLD"}


@contextlib.contextmanager
def _moto_serializer() -> Iterator[None]:
    dynamodb_responses.uninstall()
    try:
        yield
    finally:
        dynamodb_responses.install()


def _answers(items: list[dict[str, Any]]) -> list[tuple[str, int, Any, Any]]:
    """(action, status, raw body as JSON, what boto3 parsed) of every request, on a new table."""
    ddb = client("dynamodb")
    table = __import__("boto3").resource("dynamodb").Table(TABLE)
    ddb.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"},
                                {"AttributeName": "SK", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"},
                                           {"AttributeName": "SK", "AttributeType": "S"}])
    bodies: list[tuple[int, bytes]] = []
    table.meta.client.meta.events.register(
        "after-call.dynamodb.*", lambda **kw: bodies.append((kw["http_response"].status_code,
                                                             kw["http_response"].content)))
    answers = []
    try:
        for action, request in _requests(items):
            whole_client = action.startswith(("batch", "transact"))
            try:
                parsed = getattr(table.meta.client if whole_client else table, action)(**request)
            except Exception as exc:  # an error is an answer too
                parsed = {"error": type(exc).__name__, "message": str(exc)}
            parsed.pop("ResponseMetadata", None)
            status, raw = bodies.pop()
            answers.append((action, status, json.loads(raw) if raw else None, parsed))
    finally:
        ddb.delete_table(TableName=TABLE)  # the next example starts from no table
    return answers


@pytest.mark.timeout(240)
@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(items=_items)
def test_item_responses_are_the_ones_moto_writes(aws: None, items: list[dict[str, Any]]) -> None:
    patched = _answers(items)
    with _moto_serializer():
        original = _answers(items)
    assert patched == original


def test_an_item_response_skips_moto_serializer(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given moto's serializer counting its calls
    calls: list[str] = []
    serialize = ResponseSerializer.serialize

    def counting(self: ResponseSerializer, result: Any) -> Any:
        calls.append(self.operation_model.name)
        return serialize(self, result)

    monkeypatch.setattr(ResponseSerializer, "serialize", counting)
    ddb = client("dynamodb")
    ddb.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"}])
    # When an item is written and read, and an error answered
    ddb.put_item(TableName=TABLE, Item={"PK": {"S": "a"}, "v": {"B": b"\x00"}})
    assert ddb.get_item(TableName=TABLE, Key={"PK": {"S": "a"}})["Item"]["v"] == {"B": b"\x00"}
    with pytest.raises(ddb.exceptions.ResourceNotFoundException):
        ddb.get_item(TableName="missing", Key={"PK": {"S": "a"}})
    # Then only the table's creation and the error went through moto's serializer
    assert "PutItem" not in calls and "GetItem" not in calls
    assert "CreateTable" in calls
    # ...where moto alone serializes every answer
    with _moto_serializer():
        ddb.get_item(TableName=TABLE, Key={"PK": {"S": "a"}})
    assert "GetItem" in calls
