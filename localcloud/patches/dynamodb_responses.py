"""DynamoDB's item responses are written as JSON at once, not walked member by member.

moto 5.2.5 serializes every response through its generic, shape-driven ``ResponseSerializer``:
for each member of the output shape, and for every attribute of every item in it, an
``XFormedAttributePicker`` tries the member's name and its snake_case form, then a serializer
method is looked up by the shape's type. For an item action that is pure-Python work in
proportion to the item's attributes, done under the DynamoDB lock
(``patches/dynamodb_linearizable``), so every other function's DynamoDB call waits for it: about
18 % of the local cloud's busy time during the bench's cost run (py-spy, 2026-12-02), billed to
the functions as their duration.

An item action's result is already in DynamoDB's wire form (``Item``, ``Items``,
``Attributes``, ``LastEvaluatedKey``, ``ConsumedCapacity`` … keyed as AWS names them, attribute
values as ``{"S": …}`` maps); the only conversion the shape adds is base64 for binary values.
So for those actions, when every top-level key is a member of the output shape, the result is
dumped as JSON with binary values base64-encoded, and anything else (another action, an error,
an unexpected key, a value JSON cannot hold) goes through moto's serializer as before.
``tests/localcloud/test_dynamodb_responses.py`` runs the same requests through both and compares
the bodies.
"""

from __future__ import annotations

import base64
import functools
import json
from typing import Any

from moto.core.responses import TYPE_RESPONSE, ActionResult
from moto.core.utils import get_service_model
from moto.dynamodb.responses import DynamoHandler

_ORIGINAL = DynamoHandler.serialized

#: The item actions whose results are in wire form already.
ITEM_ACTIONS = frozenset({
    "GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem",
    "BatchWriteItem", "TransactGetItems", "TransactWriteItems"})
CONTENT_TYPE = "application/x-amz-json-1.0"


@functools.cache
def _members(action: str) -> frozenset[str]:
    shape = get_service_model("dynamodb").operation_model(action).output_shape
    return frozenset(shape.members) if shape is not None else frozenset()


def _binary(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(type(value).__name__)


def _serialized(self: DynamoHandler, action_result: ActionResult) -> TYPE_RESPONSE:
    action = self._get_action()
    result = action_result.result
    if action in ITEM_ACTIONS and isinstance(result, dict) and result.keys() <= _members(action):
        try:
            body = json.dumps({k: v for k, v in result.items() if v is not None}, default=_binary)
        except (TypeError, ValueError):
            pass  # not plain JSON: the generic serializer decides
        else:
            headers: dict[str, str] = {"Content-Type": CONTENT_TYPE}
            headers.update(self.response_headers)
            return 200, headers, body
    return _ORIGINAL(self, action_result)


def install() -> None:
    DynamoHandler.serialized = _serialized  # type: ignore[method-assign]


def uninstall() -> None:
    DynamoHandler.serialized = _ORIGINAL  # type: ignore[method-assign]
