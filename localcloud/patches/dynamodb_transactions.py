"""``TransactWriteItems`` backs up only the items it touches, not the whole table.

moto 5.2.5 deep-copies every table a transaction names before running it, to put the copy back
if the transaction is cancelled. That copy includes every item and the stream shard's whole
history, so each transaction costs time in proportion to everything ever written: on a stack
that has taken a few hundred orders, a burst of transactions (invoice numbers under contention)
held the DynamoDB lock for long enough that other requests hit their 10 s read timeout.

Here the transaction first snapshots the items it names (one deep copy each) and the length of
each table's stream shard; moto's own backup becomes a no-op (``copy.deepcopy`` of a ``Table``
returns the table itself inside the transaction code); on any failure the snapshots are put
back and the records the cancelled transaction appended to the stream are dropped, as moto's
restore did. Rollback is exact because every DynamoDB action runs under
``dynamodb_linearizable.LOCK``: nothing else can write in between.
"""

from __future__ import annotations

import copy
import types
from typing import Any

import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table

_ORIGINAL = DynamoDBBackend.transact_write_items
_ORIGINAL_COPY_MODULE = dynamodb_models.copy


def _deepcopy(obj: Any, memo: dict[int, Any] | None = None) -> Any:
    return obj if isinstance(obj, Table) else copy.deepcopy(obj, memo)


# What the transaction code of moto's DynamoDB models sees as ``copy``.
_COPY_SHIM = types.SimpleNamespace(deepcopy=_deepcopy, copy=copy.copy)


def _key_of(table: Table, op_type: str, op: dict[str, Any]) -> tuple[DynamoType, DynamoType | None] | None:
    attrs = op.get("Item") if op_type == "Put" else op.get("Key")
    if not isinstance(attrs, dict) or table.hash_key_attr not in attrs:
        return None  # moto rejects it itself
    hash_value = DynamoType(attrs[table.hash_key_attr])
    range_value = None
    if table.range_key_attr is not None:
        if table.range_key_attr not in attrs:
            return None
        range_value = DynamoType(attrs[table.range_key_attr])
    return hash_value, range_value


def _transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    snapshots: list[tuple[Table, DynamoType, DynamoType | None, Any]] = []
    stream_lengths: dict[int, tuple[Table, int]] = {}
    for entry in transact_items if len(transact_items) <= 100 else []:
        if len(entry) != 1:
            continue
        op_type, op = next(iter(entry.items()))
        table = self.tables.get(op.get("TableName")) if isinstance(op, dict) else None
        if table is None:
            continue
        key = _key_of(table, op_type, op)
        if key is None:
            continue
        current = table.get_item(*key)
        snapshots.append((table, *key, copy.deepcopy(current) if current is not None else None))
        if table.stream_shard is not None:
            stream_lengths.setdefault(id(table), (table, len(table.stream_shard.items)))
    try:
        _ORIGINAL(self, transact_items)
    except BaseException:
        for table, hash_value, range_value, item in reversed(snapshots):
            _restore(table, hash_value, range_value, item)
        for table, length in stream_lengths.values():
            if table.stream_shard is not None:
                del table.stream_shard.items[length:]
        raise


def _restore(table: Table, hash_value: DynamoType, range_value: DynamoType | None, item: Any) -> None:
    """Put the item back as it was (or remove it), without a stream record."""
    if range_value is not None:
        if item is None:
            table.items[hash_value].pop(range_value, None)
        else:
            table.items[hash_value][range_value] = item
    elif item is None:
        table.items.pop(hash_value, None)
    else:
        table.items[hash_value] = item


def install() -> None:
    DynamoDBBackend.transact_write_items = _transact_write_items  # type: ignore[method-assign]
    dynamodb_models.copy = _COPY_SHIM  # type: ignore[assignment]


def uninstall() -> None:
    DynamoDBBackend.transact_write_items = _ORIGINAL  # type: ignore[method-assign]
    dynamodb_models.copy = _ORIGINAL_COPY_MODULE
