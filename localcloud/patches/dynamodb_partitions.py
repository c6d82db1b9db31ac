"""``Query`` reads only its own partition, in key order, as DynamoDB does.

moto 5.2.5 answers every ``Query`` by walking the whole table: ``Table.query`` calls
``all_items()`` (every item, sorted), keeps the items of the wanted partition, sorts them, then
walks them from the first one to skip what comes before ``ExclusiveStartKey``. A table query
therefore costs time in proportion to everything in the table, and an index query as well; with
20,000 items a ``GET /orders`` page took 4.7 s. On DynamoDB a ``Query`` reads one partition of
one index, from its start key, and stops at its ``Limit``.

Here each table keeps, for itself and for each of its indexes, its items by partition: a list of
``(sort key, item key)`` kept in moto's own query order (for the table: the sort key; for an
index: its sort key, then the table's partition and sort key), updated by every write —
``PutItem`` (and ``BatchWriteItem``, which puts), ``DeleteItem``, ``UpdateItem`` (which changes
an item in place), and ``TransactWriteItems`` including its rollback — and built from the table
on its first query (and again if something replaced the table's items wholesale). A query then
finds its start by bisection (after ``ExclusiveStartKey``, at the lower bound of its key
condition, or from the end when ``ScanIndexForward`` is false), takes the matching items up to
its ``Limit`` plus the next item of the partition, and hands just those to moto's own
``Table.query``, which sorts, pages, sets ``LastEvaluatedKey``, counts, projects and filters them
exactly as before. So every answer is moto's answer, from a handful of items instead of the table
(``tests/localcloud/test_dynamodb_partitions.py`` compares the two on generated tables and
queries). A query this does not model — a multi-attribute key, the legacy ``QueryFilter``, a key
value of another type than the index's, an unusual start key — goes to moto's query unchanged.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table

_ORIGINAL_QUERY = Table.query
_ORIGINAL_PUT = Table.put_item
_ORIGINAL_DELETE = Table.delete_item
_ORIGINAL_UPDATE = DynamoDBBackend.update_item
_ORIGINAL_TRANSACT = DynamoDBBackend.transact_write_items
_WHOLESALE = ("execute_statement", "batch_execute_statement", "execute_transaction")
_ORIGINAL_WHOLESALE = {name: getattr(DynamoDBBackend, name) for name in _WHOLESALE}

#: The attribute each table keeps its partitions in (absent until its first query).
_STATE = "_oms_partitions"
_build_lock = threading.RLock()  # queries and writes already hold dynamodb_linearizable.LOCK

ItemKey = tuple[DynamoType, DynamoType | None]
SortKey = tuple[Any, ...]
Entry = tuple[SortKey, ItemKey]


def _first(entry: Entry) -> Any:
    return entry[0][0]


class _OutOfStep(Exception):
    """The partitions disagree with the table (a write by a path this module does not follow)."""


@dataclass
class _Layout:
    """How one index (``name`` None: the table) orders its items: moto's query order."""

    name: str | None
    hash_attr: str
    sort_attrs: tuple[str, ...]  # the attributes a partition is ordered by, in order
    range_attr: str | None  # the key condition's sort key (None: the index has none)
    required: tuple[str, ...]  # an item is in the index only with all of these


@dataclass
class _Partitions:
    layout: _Layout
    entries: dict[tuple[str, Any], list[Entry]] = field(default_factory=dict)
    where: dict[ItemKey, tuple[tuple[str, Any], SortKey]] = field(default_factory=dict)

    def remove(self, key: ItemKey) -> None:
        place = self.where.pop(key, None)
        if place is None:
            return
        partition, sort_key = place
        entries = self.entries[partition]
        i = bisect.bisect_left(entries, sort_key, key=lambda e: e[0])
        if i == len(entries) or entries[i][1] != key:  # sort keys are unique per item
            raise _OutOfStep(key)
        del entries[i]
        if not entries:
            del self.entries[partition]

    def add(self, key: ItemKey, item: Item) -> None:
        layout = self.layout
        attrs = item.attrs
        if layout.name is None:
            partition = (item.hash_key.type, item.hash_key.cast_value)
            sort_key: SortKey = (item.range_key.cast_value,) if item.range_key is not None else ()
        else:
            if any(attrs.get(a) is None for a in layout.required):
                return  # a sparse index holds only items with its key attributes
            value = attrs[layout.hash_attr]
            partition = (value.type, value.cast_value)
            sort_key = tuple(attrs[a].cast_value for a in layout.sort_attrs)
        entries = self.entries.setdefault(partition, [])
        bisect.insort(entries, (sort_key, key), key=lambda e: e[0])
        self.where[key] = (partition, sort_key)


@dataclass
class _TableState:
    items_id: int
    partitions: dict[str | None, _Partitions]
    broken: bool = False


def _layouts(table: Table) -> list[_Layout]:
    table_sort = (table.range_key_attr,) if table.range_key_attr else ()
    layouts = [_Layout(None, table.hash_key_attr, table_sort, table.range_key_attr, ())]
    for index in table.all_indexes():
        hashes = [k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"]
        ranges = [k["AttributeName"] for k in index.schema if k["KeyType"] == "RANGE"]
        if len(hashes) != 1 or len(ranges) > 1:
            continue  # multi-attribute keys: moto's query
        if ranges:
            # moto sorts by the index's sort key, then the table's partition and sort key
            sort = (ranges[0], table.hash_key_attr, *table_sort)
            layouts.append(_Layout(index.name, hashes[0], sort, ranges[0], (hashes[0], ranges[0])))
        # an index without a sort key is rare enough to leave to moto
    return layouts


def _all(table: Table) -> Iterator[tuple[ItemKey, Item]]:
    for hash_value, stored in list(table.items.items()):
        if table.range_key_attr is None:
            yield (hash_value, None), stored  # type: ignore[misc]
        else:
            for range_value, item in list(stored.items()):
                yield (hash_value, range_value), item


def _state(table: Table) -> _TableState | None:
    """The table's partitions, (re)built when missing or when its items were replaced."""
    state: _TableState | None = table.__dict__.get(_STATE)
    if state is not None and state.items_id == id(table.items) and not state.broken:
        return state
    if state is not None and state.broken:
        return None
    with _build_lock:
        partitions = {layout.name: _Partitions(layout) for layout in _layouts(table)}
        state = _TableState(id(table.items), partitions)
        try:
            for key, item in _all(table):
                for p in partitions.values():
                    p.add(key, item)
        except (TypeError, _OutOfStep):  # key values of mixed types in one index: moto's query from now on
            state.broken = True
        table.__dict__[_STATE] = state
    return None if state.broken else state


def _stored(table: Table, key: ItemKey) -> Item | None:
    stored = table.items.get(key[0])
    if stored is None:
        return None
    if table.range_key_attr is None:
        return stored if isinstance(stored, Item) else None
    return stored.get(key[1]) if key[1] is not None else None


def reindex(table: Table, hash_value: DynamoType, range_value: DynamoType | None) -> None:
    """The item under this key may have changed (or gone): move its entries to match."""
    state: _TableState | None = table.__dict__.get(_STATE)
    if state is None or state.broken:
        return  # built on the first query
    if state.items_id != id(table.items):
        return  # rebuilt on the next query
    key: ItemKey = (hash_value, range_value if table.range_key_attr else None)
    item = _stored(table, key)
    try:
        for p in state.partitions.values():
            p.remove(key)
            if item is not None:
                p.add(key, item)
    except TypeError:  # key values of mixed types in one index: moto's query from now on
        state.broken = True
    except _OutOfStep:
        table.__dict__.pop(_STATE, None)  # rebuilt on the next query


def _key_values(table: Table, attrs: dict[str, Any]) -> tuple[DynamoType, DynamoType | None] | None:
    try:
        hash_value = DynamoType(attrs[table.hash_key_attr])
        range_value = DynamoType(attrs[table.range_key_attr]) if table.range_key_attr else None
    except (KeyError, TypeError, AttributeError):
        return None
    return hash_value, range_value


# -- the writes ------------------------------------------------------------------------------------


def _put_item(self: Table, item_attrs: dict[str, Any], *args: Any, **kwargs: Any) -> Item:
    try:
        return _ORIGINAL_PUT(self, item_attrs, *args, **kwargs)
    finally:
        key = _key_values(self, item_attrs) if isinstance(item_attrs, dict) else None
        if key is not None:
            reindex(self, *key)


def _delete_item(self: Table, hash_key: DynamoType, range_key: DynamoType | None) -> Item | None:
    try:
        return _ORIGINAL_DELETE(self, hash_key, range_key)
    finally:
        reindex(self, hash_key, range_key)


def _update_item(self: DynamoDBBackend, table_name: str, key: dict[str, Any], *args: Any, **kwargs: Any) -> Item:
    try:
        return _ORIGINAL_UPDATE(self, table_name, key, *args, **kwargs)
    finally:
        table = self.tables.get(table_name)
        values = _key_values(table, key) if table is not None and isinstance(key, dict) else None
        if table is not None and values is not None:
            reindex(table, *values)


def _transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    try:
        _ORIGINAL_TRANSACT(self, transact_items)
    finally:
        # the rollback of a cancelled transaction puts items back behind the writes' backs
        for entry in transact_items if isinstance(transact_items, list) else []:
            if not isinstance(entry, dict) or len(entry) != 1:
                continue
            op_type, op = next(iter(entry.items()))
            table = self.tables.get(str(op.get("TableName"))) if isinstance(op, dict) else None
            attrs = op.get("Item") if op_type == "Put" else op.get("Key")
            values = _key_values(table, attrs) if table is not None and isinstance(attrs, dict) else None
            if table is not None and values is not None:
                reindex(table, *values)


def _wholesale(name: str) -> Callable[..., Any]:
    original = _ORIGINAL_WHOLESALE[name]

    def run(self: DynamoDBBackend, *args: Any, **kwargs: Any) -> Any:
        try:
            return original(self, *args, **kwargs)
        finally:  # PartiQL writes by its own paths: every table is rebuilt on its next query
            for table in self.tables.values():
                table.__dict__.pop(_STATE, None)

    return run


# -- the query -------------------------------------------------------------------------------------


class _Window:
    """The table as moto's query sees it: ``all_items()`` is just the candidates."""

    def __init__(self, table: Table, items: list[Item]) -> None:
        self._table = table
        self._items = items

    def all_items(self) -> list[Item]:
        return self._items

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)


_LOWER = {"EQ", "GE", "GT", "BETWEEN", "BEGINS_WITH"}  # conditions with a lower bound
#: moto's key condition parser passes the operators as written: ``=``, ``<=``, …, ``BETWEEN``
_OPERATORS = {"=": "EQ", "<": "LT", "<=": "LE", ">": "GT", ">=": "GE"}


def _candidates(
    table: Table, state: _TableState, index_name: str | None, partition_value: DynamoType,
    range_comparison: str | None, range_objs: list[DynamoType], limit: int | None,
    exclusive_start_key: dict[str, Any] | None, forward: bool,
) -> list[Item] | None:
    """The items moto's query would look at before it stops, or None to leave the query to moto."""
    partitions = state.partitions.get(index_name)
    if partitions is None:
        return None
    layout = partitions.layout
    entries = partitions.entries.get((partition_value.type, partition_value.cast_value), [])
    comparison = _OPERATORS.get(range_comparison or "", (range_comparison or "").upper()) or None
    first_type = None
    if comparison:
        if layout.range_attr is None or not range_objs or comparison not in (*_LOWER, "LT", "LE"):
            return None
        if len(range_objs) != (2 if comparison == "BETWEEN" else 1):
            return None
        first_type = range_objs[0].type
        if any(o.type != first_type for o in range_objs) or first_type not in ("S", "N", "B"):
            return None
        if comparison == "BEGINS_WITH" and first_type == "N":
            return None
    bound = [o.cast_value for o in range_objs]
    n = len(entries)
    if forward:
        start = 0
        if comparison in _LOWER:
            start = bisect.bisect_left(entries, bound[0], key=_first)
            if comparison == "GT":
                start = bisect.bisect_right(entries, bound[0], key=_first)
        if exclusive_start_key is not None:
            after = _start_key(table, layout, exclusive_start_key, partition_value)
            if after is None:
                return None
            start = max(start, bisect.bisect_right(entries, after, key=lambda e: e[0]))
        positions: Iterator[int] = iter(range(start, n))
    else:
        end = n  # one past the last candidate
        if comparison in ("EQ", "LE"):
            end = bisect.bisect_right(entries, bound[0], key=_first)
        elif comparison == "LT":
            end = bisect.bisect_left(entries, bound[0], key=_first)
        elif comparison == "BETWEEN":
            end = bisect.bisect_right(entries, bound[-1], key=_first)
        elif comparison == "BEGINS_WITH":
            prefix = bound[0]
            end = bisect.bisect_right(entries, prefix, key=lambda e: e[0][0][: len(prefix)])
        if exclusive_start_key is not None:
            before = _start_key(table, layout, exclusive_start_key, partition_value)
            if before is None:
                return None
            end = min(end, bisect.bisect_left(entries, before, key=lambda e: e[0]))
        positions = iter(range(end - 1, -1, -1))
    window: list[Item] = []
    for i in positions:
        item = _stored(table, entries[i][1])
        if item is None:
            return None  # out of step with the table: let moto answer
        window.append(item)
        if range_comparison and not _matches(item, layout, range_comparison, range_objs):
            break  # the key condition's range ends here; moto still looks at this one item
        if limit is not None and len(window) > limit:
            break  # the item after the page: moto's cue for LastEvaluatedKey
    return window


def _matches(item: Item, layout: _Layout, comparison: str, objs: list[DynamoType]) -> bool:
    value = item.range_key if layout.name is None else item.attrs.get(layout.range_attr or "")
    return bool(value is not None and value.compare(comparison, objs))


def _start_key(table: Table, layout: _Layout, key: dict[str, Any], partition_value: DynamoType) -> SortKey | None:
    """``ExclusiveStartKey`` as a sort key of this layout (None: not one moto's skip agrees with)."""
    try:
        if not isinstance(key, dict) or DynamoType(key[layout.hash_attr]) != partition_value:
            return None  # a start key of another partition: moto's own comparison decides
        if layout.name is None:
            if table.range_key_attr is None:
                return None
            return (DynamoType(key[table.range_key_attr]).cast_value,)
        return tuple(DynamoType(key[a]).cast_value for a in layout.sort_attrs)
    except (KeyError, TypeError, AttributeError):
        return None


def _query(
    self: Table,
    hash_key: DynamoType | None,
    range_comparison: str | None,
    range_objs: list[DynamoType],
    limit: int,
    exclusive_start_key: dict[str, Any],
    scan_index_forward: bool,
    projection_expressions: list[list[str]] | None,
    index_name: str | None = None,
    consistent_read: bool = False,
    filter_expression: Any = None,
    hash_key_conditions: list[tuple[str, DynamoType]] | None = None,
    range_key_conditions: list[tuple[str, str, list[DynamoType]]] | None = None,
    **filter_kwargs: Any,
) -> tuple[list[Item], int, dict[str, Any] | None]:
    args = (hash_key, range_comparison, range_objs, limit, exclusive_start_key, scan_index_forward,
            projection_expressions, index_name, consistent_read, filter_expression)
    keywords = {"hash_key_conditions": hash_key_conditions, "range_key_conditions": range_key_conditions,
                **filter_kwargs}
    window = None
    if not filter_kwargs and len(range_key_conditions or []) <= 1 and len(hash_key_conditions or []) <= 1:
        state = _state(self)
        partition_value = _partition_value(self, state, index_name, hash_key, hash_key_conditions)
        if state is not None and partition_value is not None:
            window = _candidates(self, state, index_name, partition_value, range_comparison, list(range_objs),
                                 limit, exclusive_start_key, scan_index_forward is not False)
    if window is None:
        return _ORIGINAL_QUERY(self, *args, **keywords)
    return _ORIGINAL_QUERY(_Window(self, window), *args, **keywords)  # type: ignore[arg-type]


def _partition_value(
    table: Table, state: _TableState | None, index_name: str | None, hash_key: DynamoType | None,
    hash_key_conditions: list[tuple[str, DynamoType]] | None,
) -> DynamoType | None:
    if state is None:
        return None
    partitions = state.partitions.get(index_name)
    if partitions is None:
        return None
    if index_name is None:
        return hash_key
    conditions = hash_key_conditions or []
    if len(conditions) != 1 or conditions[0][0] != partitions.layout.hash_attr:
        return None
    return conditions[0][1]


def install() -> None:
    Table.query = _query  # type: ignore[method-assign]
    Table.put_item = _put_item  # type: ignore[method-assign]
    Table.delete_item = _delete_item  # type: ignore[method-assign]
    DynamoDBBackend.update_item = _update_item  # type: ignore[method-assign]
    # after dynamodb_transactions: its rollback is what this follows
    global _ORIGINAL_TRANSACT
    if DynamoDBBackend.transact_write_items is not _transact_write_items:
        _ORIGINAL_TRANSACT = DynamoDBBackend.transact_write_items
    DynamoDBBackend.transact_write_items = _transact_write_items  # type: ignore[method-assign]
    for name in _WHOLESALE:
        setattr(DynamoDBBackend, name, _wholesale(name))


def uninstall() -> None:
    Table.query = _ORIGINAL_QUERY  # type: ignore[method-assign]
    Table.put_item = _ORIGINAL_PUT  # type: ignore[method-assign]
    Table.delete_item = _ORIGINAL_DELETE  # type: ignore[method-assign]
    DynamoDBBackend.update_item = _ORIGINAL_UPDATE  # type: ignore[method-assign]
    DynamoDBBackend.transact_write_items = _ORIGINAL_TRANSACT  # type: ignore[method-assign]
    for name, original in _ORIGINAL_WHOLESALE.items():
        setattr(DynamoDBBackend, name, original)
