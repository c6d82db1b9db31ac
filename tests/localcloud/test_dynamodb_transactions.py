"""A cancelled TransactWriteItems restores exactly what it touched, without copying the table
(localcloud.patches.dynamodb_transactions)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto.dynamodb.models import dynamodb_backends

from localcloud.patches import dynamodb_partitions, dynamodb_transactions
from tests.localcloud.support import REGION, client, create_table

ACCOUNT = "123456789012"


def _key(pk: str) -> dict[str, Any]:
    return {"PK": {"S": pk}, "SK": {"S": "ITEM"}}


def _table() -> Any:
    return dynamodb_backends[ACCOUNT][REGION].tables["tx"]


def _cancelled_transaction(ddb: Any) -> None:
    """Update A, put a new C, then fail a condition on B: the whole transaction is cancelled."""
    with pytest.raises(ClientError) as error:
        ddb.transact_write_items(TransactItems=[
            {"Update": {"TableName": "tx", "Key": _key("A"), "UpdateExpression": "SET qty = :n",
                        "ExpressionAttributeValues": {":n": {"N": "99"}}}},
            {"Put": {"TableName": "tx", "Item": {**_key("C"), "qty": {"N": "1"}}}},
            {"Update": {"TableName": "tx", "Key": _key("B"), "UpdateExpression": "SET qty = :n",
                        "ConditionExpression": "qty = :never",
                        "ExpressionAttributeValues": {":n": {"N": "5"}, ":never": {"N": "-1"}}}},
        ])
    assert error.value.response["Error"]["Code"] == "TransactionCanceledException"


def _seed(ddb: Any) -> None:
    create_table("tx")
    for pk in ("A", "B"):
        ddb.put_item(TableName="tx", Item={**_key(pk), "qty": {"N": "1"}})
    for n in range(300):  # what a transaction must not copy
        ddb.put_item(TableName="tx", Item={**_key(f"OTHER#{n}"), "qty": {"N": "1"}})


def test_a_cancelled_transaction_changes_nothing_and_leaves_no_stream_record(aws: None) -> None:
    ddb = client("dynamodb")
    _seed(ddb)
    table = _table()
    records_before = len(table.stream_shard.items)
    _cancelled_transaction(ddb)
    assert ddb.get_item(TableName="tx", Key=_key("A"))["Item"]["qty"] == {"N": "1"}
    assert "Item" not in ddb.get_item(TableName="tx", Key=_key("C"))
    assert ddb.get_item(TableName="tx", Key=_key("B"))["Item"]["qty"] == {"N": "1"}
    assert len(table.stream_shard.items) == records_before
    # ...and the table, its items and its stream are the same objects: nothing was copied
    assert _table() is table and len(ddb.scan(TableName="tx")["Items"]) == 302
    # a transaction that succeeds still writes everything and streams one record per item
    ddb.transact_write_items(TransactItems=[
        {"Update": {"TableName": "tx", "Key": _key("A"), "UpdateExpression": "SET qty = :n",
                    "ExpressionAttributeValues": {":n": {"N": "2"}}}},
        {"Put": {"TableName": "tx", "Item": {**_key("C"), "qty": {"N": "1"}}}},
    ])
    assert ddb.get_item(TableName="tx", Key=_key("A"))["Item"]["qty"] == {"N": "2"}
    assert [r.to_json()["eventName"] for r in table.stream_shard.items[records_before:]] == ["MODIFY", "INSERT"]


def test_without_the_fix_moto_replaces_the_table_with_a_whole_copy(aws: None) -> None:
    ddb = client("dynamodb")
    _seed(ddb)
    table = _table()
    dynamodb_transactions.uninstall()
    try:
        _cancelled_transaction(ddb)
        assert _table() is not table  # moto put back a deep copy of every item and the stream history
    finally:
        dynamodb_transactions.install()
        dynamodb_partitions.install()  # it follows the transactions' rollback: wrapped again
