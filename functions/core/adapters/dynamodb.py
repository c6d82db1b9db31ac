"""DynamoDB attribute-value (de)serialization for the low-level client.

Floats are never written: numbers go in as Decimal or int, money as strings.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from functions.core.errors import RETRYABLE as RETRYABLE  # re-exported: adapters import them from here
from functions.core.errors import TransientError
from functions.core.errors import cancellation_codes as cancellation_codes
from functions.core.errors import is_retryable as is_retryable

_ser = TypeSerializer()
_deser = TypeDeserializer()


def to_item(data: dict[str, Any]) -> dict[str, Any]:
    return {k: _ser.serialize(v) for k, v in data.items() if v is not None}


def to_value(value: Any) -> Any:
    return _ser.serialize(value)


def to_values(values: dict[str, Any]) -> dict[str, Any]:
    """``ExpressionAttributeValues`` from plain values (``{":n": 1}``)."""
    return {k: _ser.serialize(v) for k, v in values.items()}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _plain(_deser.deserialize(v)) for k, v in item.items()}


def _plain(value: Any) -> Any:
    """Decimal → int where integral (quantities, versions); containers recursively."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class TableAdapter:
    """Base of every adapter over the single table: the table name and a client built on
    first use (tests may pass their own)."""

    def __init__(self, table_name: str, dynamodb_client: Any = None) -> None:
        self.table = table_name
        self._client = dynamodb_client

    @property
    def db(self) -> Any:
        from .aws import client

        return self._client or client("dynamodb")




class Refusal(list[str]):
    """The per-action cancellation codes of a refused transaction (``"None"`` where an action
    passed), with the reasons as DynamoDB gave them (``Item`` where the action asked for
    ``ReturnValuesOnConditionCheckFailure``)."""

    def __init__(self, codes: list[str], reasons: list[dict[str, Any]]) -> None:
        super().__init__(codes)
        self.reasons = reasons

    def old_item(self, index: int) -> dict[str, Any]:
        """The item action ``index`` found (plain values), if it asked for it."""
        reason = self.reasons[index] if index < len(self.reasons) else {}
        return from_item(reason.get("Item") or {})


def transact(adapter: TableAdapter, actions: list[dict[str, Any]], what: str, *,
             conflicts_refuse: bool = False) -> Refusal:
    """One TransactWriteItems, the only way this code writes a transaction: an empty ``Refusal``
    when it was written, the per-action cancellation codes when a condition refused it; a
    throttle or a conflict with a concurrent transaction is raised as ``TransientError`` (the
    workflow retries it; an API answers 503 with Retry-After), anything else as it came.

    ``conflicts_refuse``: a conflict with a concurrent transaction is an answer for this write
    (e.g. two captures with one Idempotency-Key), returned as its codes, not raised."""
    try:
        adapter.db.transact_write_items(TransactItems=actions)
    except ClientError as exc:
        codes = cancellation_codes(exc)
        conflict_only = conflicts_refuse and "TransactionConflict" in codes and not any(
            c in RETRYABLE for c in codes if c != "TransactionConflict")
        if is_retryable(exc) and not conflict_only:
            raise TransientError(f"{what}: {codes or exc}") from exc
        if exc.response["Error"]["Code"] != "TransactionCanceledException":
            raise
        return Refusal(codes or ["unknown"], list(exc.response.get("CancellationReasons", [])))
    return Refusal([], [])
