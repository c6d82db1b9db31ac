"""A Query reads only its partition (localcloud.patches.dynamodb_partitions), and answers exactly
as moto's own query does: the same queries, on generated tables, are run through the patched
query and through moto's and their answers compared, page by page."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.dynamo_type import Item
from moto.dynamodb.models.table import Table

from localcloud.patches import dynamodb_partitions
from tests.localcloud.support import REGION, client

ACCOUNT = "123456789012"
_names = itertools.count()


def _schema(hash_attr: str, range_attr: str) -> list[dict[str, str]]:
    return [{"AttributeName": hash_attr, "KeyType": "HASH"}, {"AttributeName": range_attr, "KeyType": "RANGE"}]


def _create(ddb: Any, stream: bool = False) -> str:
    name = f"parts-{next(_names)}"
    spec: dict[str, Any] = {
        "TableName": name,
        "KeySchema": [{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
        "AttributeDefinitions": [{"AttributeName": a, "AttributeType": t} for a, t in (
            ("PK", "S"), ("SK", "S"), ("G1PK", "S"), ("G1SK", "S"), ("G2PK", "S"), ("G2SK", "N"))],
        "GlobalSecondaryIndexes": [
            {"IndexName": "GSI1", "Projection": {"ProjectionType": "ALL"}, "KeySchema": _schema("G1PK", "G1SK")},
            {"IndexName": "GSI2", "Projection": {"ProjectionType": "KEYS_ONLY"}, "KeySchema": _schema("G2PK", "G2SK")},
        ],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if stream:
        spec["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    ddb.create_table(**spec)
    return name


def _table(name: str) -> Table:
    return dynamodb_backends[ACCOUNT][REGION].tables[name]


@contextlib.contextmanager
def _moto_query() -> Iterator[None]:
    """moto's own Query for the duration (the writes stay followed, so the patch stays in step)."""
    Table.query = dynamodb_partitions._ORIGINAL_QUERY  # type: ignore[method-assign]
    try:
        yield
    finally:
        Table.query = dynamodb_partitions._query  # type: ignore[method-assign]


def _pages(ddb: Any, request: dict[str, Any]) -> list[dict[str, Any]]:
    """Every page of the query (or the error it raised), without the response metadata."""
    pages: list[dict[str, Any]] = []
    start: dict[str, Any] | None = None
    for _ in range(200):
        try:
            page = ddb.query(**request, **({"ExclusiveStartKey": start} if start else {}))
        except ClientError as exc:
            pages.append({"error": exc.response["Error"]["Code"]})
            return pages
        page.pop("ResponseMetadata", None)
        pages.append(page)
        start = page.get("LastEvaluatedKey")
        if not start:
            return pages
    raise AssertionError(f"more than 200 pages: {request}")


# -- generated tables and queries ----------------------------------------------------------------

PKS = ["A", "B", "C#1"]
SORTS = ["a", "a#1", "a#2", "ab", "b", "b#1", "ba", "c", "Ä", "z"]
NUMBERS = ["-3", "0", "1", "1.5", "2", "10", "100"]

item_keys = st.tuples(st.sampled_from(PKS), st.sampled_from(SORTS))
gsi1 = st.one_of(st.none(), st.tuples(st.sampled_from(["X", "Y"]), st.sampled_from(SORTS)))
gsi2 = st.one_of(st.none(), st.tuples(st.sampled_from(["N"]), st.sampled_from(NUMBERS)))


def _attrs(key: tuple[str, str], g1: tuple[str, str] | None, g2: tuple[str, str] | None, pad: int) -> dict[str, Any]:
    item: dict[str, Any] = {"PK": {"S": key[0]}, "SK": {"S": key[1]}, "n": {"N": str(pad)}, "pad": {"S": "x" * pad}}
    if g1:
        item |= {"G1PK": {"S": g1[0]}, "G1SK": {"S": g1[1]}}
    if g2:
        item |= {"G2PK": {"S": g2[0]}, "G2SK": {"N": g2[1]}}
    return item


def _key(key: tuple[str, str]) -> dict[str, Any]:
    return {"PK": {"S": key[0]}, "SK": {"S": key[1]}}


puts = st.builds(lambda k, a, b, p: ("put", k, a, b, p), item_keys, gsi1, gsi2, st.integers(0, 3))
updates = st.builds(lambda k, a, b: ("update", k, a, b), item_keys, gsi1, gsi2)
deletes = st.builds(lambda k: ("delete", k), item_keys)
transactions = st.builds(lambda ks, a, fail: ("transact", ks, a, fail),
                         st.lists(item_keys, min_size=1, max_size=3, unique=True), gsi1, st.booleans())
batches = st.builds(lambda ks, a: ("batch", ks, a), st.lists(item_keys, min_size=1, max_size=5, unique=True), gsi1)
operations = st.lists(st.one_of(puts, puts, puts, updates, deletes, transactions, batches), min_size=1, max_size=40)


def _apply(ddb: Any, table: str, op: tuple[Any, ...]) -> None:
    kind = op[0]
    if kind == "put":
        ddb.put_item(TableName=table, Item=_attrs(op[1], op[2], op[3], op[4]))
    elif kind == "delete":
        ddb.delete_item(TableName=table, Key=_key(op[1]))
    elif kind == "update":  # moves the item within, into or out of the indexes: in place, in moto
        sets, removes, values = [], [], {}
        for name, value, kind_ in (("G1", op[2], "S"), ("G2", op[3], "N")):
            if value is None:
                removes += [f"{name}PK", f"{name}SK"]
            else:
                sets += [f"{name}PK = :{name}p", f"{name}SK = :{name}s"]
                values |= {f":{name}p": {"S": value[0]}, f":{name}s": {kind_: value[1]}}
        expression = " ".join(p for p in (("SET " + ", ".join(sets)) if sets else "",
                                          ("REMOVE " + ", ".join(removes)) if removes else "") if p)
        ddb.update_item(TableName=table, Key=_key(op[1]), UpdateExpression=expression,
                        **({"ExpressionAttributeValues": values} if values else {}))
    elif kind == "transact":  # a failing condition cancels it: moto's rollback puts items back
        keys, g1, fail = op[1], op[2], op[3]
        actions: list[dict[str, Any]] = [{"Put": {"TableName": table, "Item": _attrs(keys[0], g1, None, 1)}}]
        actions += [{"Delete": {"TableName": table, "Key": _key(k)}} for k in keys[1:]]
        if fail:
            actions[-1][next(iter(actions[-1]))]["ConditionExpression"] = "attribute_exists(nothing)"
        with contextlib.suppress(ClientError):
            ddb.transact_write_items(TransactItems=actions)
    else:
        ddb.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": _attrs(k, op[2], None, 2)}}
                                                   for k in op[1]]})


CONDITIONS = {
    None: ("", {}),
    "=": ("#s = :a", {}), "<": ("#s < :a", {}), "<=": ("#s <= :a", {}), ">": ("#s > :a", {}),
    ">=": ("#s >= :a", {}), "between": ("#s BETWEEN :a AND :b", {}), "begins_with": ("begins_with(#s, :a)", {}),
}


@st.composite
def queries(draw: st.DrawFn, table: str) -> dict[str, Any]:
    index = draw(st.sampled_from([None, "GSI1", "GSI2"]))
    hash_attr, sort_attr, values, kind = {
        None: ("PK", "SK", [*PKS, "none"], "S"), "GSI1": ("G1PK", "G1SK", ["X", "Y", "none"], "S"),
        "GSI2": ("G2PK", "G2SK", ["N", "none"], "N")}[index]
    condition = draw(st.sampled_from([c for c in CONDITIONS if not (kind == "N" and c == "begins_with")]))
    pool = NUMBERS if kind == "N" else [*SORTS, "", "a#", "b#", "zz"]
    low, high = sorted(draw(st.lists(st.sampled_from(pool), min_size=2, max_size=2)),
                       key=(lambda v: float(v)) if kind == "N" else None)
    names = {"#h": hash_attr}
    expression_values: dict[str, Any] = {":h": {"S": draw(st.sampled_from(values))}}
    expression = "#h = :h"
    if condition:
        names["#s"] = sort_attr
        expression += " AND " + CONDITIONS[condition][0]
        expression_values[":a"] = {kind: low}
        if condition == "between":
            expression_values[":b"] = {kind: high}
    request: dict[str, Any] = {"TableName": table, "KeyConditionExpression": expression,
                               "ExpressionAttributeNames": names, "ExpressionAttributeValues": expression_values,
                               "ScanIndexForward": draw(st.booleans())}
    if index:
        request["IndexName"] = index
    limit = draw(st.one_of(st.none(), st.integers(1, 4)))
    if limit:
        request["Limit"] = limit
    if draw(st.booleans()) and index != "GSI2":  # Limit is applied before the filter
        request["FilterExpression"] = "n >= :min"
        request["ExpressionAttributeValues"] = {**expression_values, ":min": {"N": str(draw(st.integers(0, 3)))}}
    if draw(st.integers(0, 3)) == 0:
        request["ProjectionExpression"] = "PK, SK, #h"
    elif draw(st.integers(0, 5)) == 0 and "FilterExpression" not in request:
        request["Select"] = "COUNT"
    if index is None and draw(st.integers(0, 4)) == 0:
        request["ConsistentRead"] = True
    elif index is not None and draw(st.integers(0, 9)) == 0:
        request["ConsistentRead"] = True  # refused on a global index, by both
    return request


@pytest.mark.timeout(240)
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations, data=st.data())
def test_every_query_answers_as_moto_does(aws: None, ops: list[tuple[Any, ...]], data: st.DataObject) -> None:
    ddb = client("dynamodb")
    table = _create(ddb)
    try:
        # a first query builds the partitions, so the writes after it are followed one by one
        ddb.query(TableName=table, KeyConditionExpression="PK = :h", ExpressionAttributeValues={":h": {"S": "A"}})
        for op in ops:
            _apply(ddb, table, op)
        for _ in range(8):
            request = data.draw(queries(table))
            patched = _pages(ddb, request)
            with _moto_query():
                expected = _pages(ddb, request)
            assert patched == expected, request
    finally:
        ddb.delete_table(TableName=table)


def test_a_query_reads_only_its_page_whatever_the_table_holds(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    ddb = client("dynamodb")
    table = _create(ddb)
    # Given a table with 3,000 items in other partitions and 500 in a channel's listing
    for n in range(3000):
        ddb.put_item(TableName=table, Item=_attrs((f"OTHER#{n}", "x"), ("Z", f"{n:05d}"), None, 0))
    for n in range(500):
        ddb.put_item(TableName=table, Item=_attrs((f"ORDER#{n}", "ORDER"), ("X", f"2026-12-01T{n:05d}"), None, 0))
    looked_at: list[int] = []
    original_size = Item.size

    def size(self: Item) -> int:  # moto's query asks each item it looks at for its size
        looked_at.append(1)
        return original_size(self)

    monkeypatch.setattr(Item, "size", size)
    monkeypatch.setattr(Table, "all_items", lambda self: pytest.fail("the query walked the whole table"))
    # When the newest 20 are read, and the next page after them
    first = ddb.query(TableName=table, IndexName="GSI1", KeyConditionExpression="G1PK = :p",
                      ExpressionAttributeValues={":p": {"S": "X"}}, ScanIndexForward=False, Limit=20)
    second = ddb.query(TableName=table, IndexName="GSI1", KeyConditionExpression="G1PK = :p",
                       ExpressionAttributeValues={":p": {"S": "X"}}, ScanIndexForward=False, Limit=20,
                       ExclusiveStartKey=first["LastEvaluatedKey"])
    one = ddb.query(TableName=table, KeyConditionExpression="PK = :p",
                    ExpressionAttributeValues={":p": {"S": "ORDER#7"}})
    # Then each read its own items only, in order, and paged on
    assert [i["G1SK"]["S"] for i in first["Items"]] == [f"2026-12-01T{n:05d}" for n in range(499, 479, -1)]
    assert [i["G1SK"]["S"] for i in second["Items"]] == [f"2026-12-01T{n:05d}" for n in range(479, 459, -1)]
    assert [i["PK"]["S"] for i in one["Items"]] == ["ORDER#7"]
    assert len(looked_at) <= 2 * (2 * 20 + 1) + 2  # a page's items twice (moto's size check), one more each


def test_writes_by_every_path_keep_the_partitions_in_step(aws: None) -> None:
    ddb = client("dynamodb")
    table = _create(ddb, stream=True)
    ddb.query(TableName=table, KeyConditionExpression="PK = :h", ExpressionAttributeValues={":h": {"S": "A"}})

    def listing() -> list[str]:
        return [i["SK"]["S"] for i in ddb.query(
            TableName=table, IndexName="GSI1", KeyConditionExpression="G1PK = :p",
            ExpressionAttributeValues={":p": {"S": "X"}})["Items"]]

    ddb.put_item(TableName=table, Item=_attrs(("A", "1"), ("X", "b"), None, 0))
    ddb.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": _attrs(("A", "2"), ("X", "a"), None, 0)}}]})
    assert listing() == ["2", "1"]
    # an update moves an item within the index, out of it, and (a new item) into it
    ddb.update_item(TableName=table, Key=_key(("A", "1")), UpdateExpression="SET G1SK = :s",
                    ExpressionAttributeValues={":s": {"S": "0"}})
    assert listing() == ["1", "2"]
    ddb.update_item(TableName=table, Key=_key(("A", "2")), UpdateExpression="REMOVE G1PK")
    ddb.update_item(TableName=table, Key=_key(("A", "3")), UpdateExpression="SET G1PK = :p, G1SK = :s",
                    ExpressionAttributeValues={":p": {"S": "X"}, ":s": {"S": "z"}})
    assert listing() == ["1", "3"]
    # a cancelled transaction leaves the index as it was; a committed one changes it
    with pytest.raises(ClientError):
        ddb.transact_write_items(TransactItems=[
            {"Delete": {"TableName": table, "Key": _key(("A", "1"))}},
            {"Put": {"TableName": table, "Item": _attrs(("A", "4"), ("X", "c"), None, 0),
                     "ConditionExpression": "attribute_exists(PK)"}}])
    assert listing() == ["1", "3"]
    ddb.transact_write_items(TransactItems=[
        {"Delete": {"TableName": table, "Key": _key(("A", "1"))}},
        {"Put": {"TableName": table, "Item": _attrs(("A", "4"), ("X", "c"), None, 0)}}])
    assert listing() == ["4", "3"]
    ddb.delete_item(TableName=table, Key=_key(("A", "3")))
    assert listing() == ["4"]
    # a PartiQL write goes by moto's own paths: the partitions are built again
    ddb.execute_statement(Statement=f"INSERT INTO \"{table}\" VALUE {{'PK': 'A', 'SK': '5', 'G1PK': 'X', 'G1SK': 'd'}}")
    assert listing() == ["4", "5"]


def test_without_the_fix_a_query_walks_the_whole_table(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    ddb = client("dynamodb")
    table = _create(ddb)
    for n in range(50):
        ddb.put_item(TableName=table, Item=_attrs((f"OTHER#{n}", "x"), None, None, 0))
    walked: list[int] = []
    original = Table.all_items
    monkeypatch.setattr(Table, "all_items", lambda self: walked.append(1) or original(self))
    with _moto_query():
        ddb.query(TableName=table, KeyConditionExpression="PK = :p", ExpressionAttributeValues={":p": {"S": "A"}})
    assert walked and len(_table(table).all_items()) == 50
