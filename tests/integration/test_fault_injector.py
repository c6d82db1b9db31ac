"""The local cloud's fault injector (localcloud/faults.py), as the fault matrix relies on it: a
call failed once (every attempt of it) or persistently, as AWS's throttle, a timeout before the
request left, or an answer lost after the write happened; scoped to the calls carrying a string."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectTimeoutError, ReadTimeoutError

from localcloud import faults
from localcloud.server import LocalCloud

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def ddb(cloud: LocalCloud) -> Iterator[Any]:
    yield boto3.client("dynamodb", config=Config(retries={"mode": "standard", "total_max_attempts": 2}))
    faults.clear()


def _put(ddb: Any, table: str, pk: str) -> None:
    ddb.put_item(TableName=table, Item={"PK": {"S": pk}, "SK": {"S": "FAULT"}})


def _exists(ddb: Any, table: str, pk: str) -> bool:
    return "Item" in ddb.get_item(TableName=table, Key={"PK": {"S": pk}, "SK": {"S": "FAULT"}}, ConsistentRead=True)


def test_a_throttle_once_fails_every_attempt_of_one_call_and_writes_nothing(ddb: Any, outputs: dict[str, str]) -> None:
    table, pk = outputs["TableName"], f"FLT#{uuid.uuid4().hex}"
    fault = faults.add(faults.Fault(caller="states", call="dynamodb.PutItem", kind="throttle", match=[pk]))
    with pytest.raises(ClientError) as refused:
        _put(ddb, table, pk)
    assert refused.value.response["Error"]["Code"] == "ThrottlingException"
    assert fault.fired == 2  # the client's two attempts of the one call
    assert not _exists(ddb, table, pk)
    _put(ddb, table, pk)  # the next call goes through
    assert _exists(ddb, table, pk) and fault.fired == 2


def test_a_lost_answer_writes_and_a_timeout_does_not(ddb: Any, outputs: dict[str, str]) -> None:
    table = outputs["TableName"]
    lost, timed_out = f"FLT#{uuid.uuid4().hex}", f"FLT#{uuid.uuid4().hex}"
    faults.add(faults.Fault(caller="states", call="dynamodb.PutItem", kind="lost", match=[lost]))
    faults.add(faults.Fault(caller="states", call="dynamodb.PutItem", kind="timeout", match=[timed_out]))
    with pytest.raises(ReadTimeoutError):  # sent, its answer lost: the caller cannot tell
        _put(ddb, table, lost)
    with pytest.raises(ConnectTimeoutError):  # never sent: the caller knows nothing happened
        _put(ddb, table, timed_out)
    assert _exists(ddb, table, lost) and not _exists(ddb, table, timed_out)


def test_a_persistent_fault_fails_every_call_until_lifted_and_only_the_calls_it_matches(
        ddb: Any, outputs: dict[str, str]) -> None:
    table, pk, other = outputs["TableName"], f"FLT#{uuid.uuid4().hex}", f"FLT#{uuid.uuid4().hex}"
    fault = faults.add(faults.Fault(caller="states", call="dynamodb.PutItem", kind="throttle", mode="persistent",
                                    match=[pk]))
    for _ in range(2):
        with pytest.raises(ClientError):
            _put(ddb, table, pk)
    _put(ddb, table, other)  # another journey's call is not touched
    assert fault.fired == 4
    faults.clear(fault.id)
    _put(ddb, table, pk)
    assert _exists(ddb, table, pk) and _exists(ddb, table, other)
