"""DynamoDB actions are atomic (localcloud.patches.dynamodb_linearizable)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator

import pytest

from localcloud.patches import dynamodb_linearizable
from tests.localcloud.support import client, create_table

KEY = {"PK": {"S": "SKU#1"}, "SK": {"S": "STOCK"}}


@pytest.fixture
def tiny_switch_interval() -> Iterator[None]:
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # make the interpreter switch threads as often as it can
    yield
    sys.setswitchinterval(before)


def _sell_concurrently(threads: int = 8, attempts: int = 200) -> tuple[int, int]:
    """Conditional decrements of a stock of 100 from many threads: (successes, final stock)."""
    ddb = client("dynamodb")
    ddb.put_item(TableName="stock", Item={**KEY, "qty": {"N": "100"}})
    successes = 0
    lock = threading.Lock()

    def sell() -> None:
        nonlocal successes
        own = client("dynamodb")
        for _ in range(attempts):
            try:
                own.update_item(
                    TableName="stock",
                    Key=KEY,
                    UpdateExpression="SET qty = qty - :one",
                    ConditionExpression="qty >= :one",
                    ExpressionAttributeValues={":one": {"N": "1"}},
                )
            except own.exceptions.ConditionalCheckFailedException:
                continue
            with lock:
                successes += 1

    workers = [threading.Thread(target=sell) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    stock = int(ddb.get_item(TableName="stock", Key=KEY)["Item"]["qty"]["N"])
    return successes, stock


def test_concurrent_conditional_decrements_never_oversell(aws: None, tiny_switch_interval: None) -> None:
    # Given a stock of 100 and 8 threads x 200 conditional decrements
    create_table("stock", stream=False)
    # When they race
    successes, stock = _sell_concurrently()
    # Then exactly 100 succeed and the stock ends at 0, never below
    assert (successes, stock) == (100, 0)


@pytest.mark.slow
def test_without_the_lock_moto_oversells(aws: None, tiny_switch_interval: None) -> None:
    # Given the same race with the patch removed
    create_table("stock", stream=False)
    dynamodb_linearizable.uninstall()
    try:
        # When the threads race, repeated a few times because interleaving is not guaranteed
        outcomes = []
        for _ in range(5):
            outcomes.append(_sell_concurrently())
            if outcomes[-1] != (100, 0):
                break
    finally:
        dynamodb_linearizable.install()
    # Then at least one run sold more than the stock (this is what the patch prevents)
    assert any(successes > 100 or stock < 0 for successes, stock in outcomes), outcomes
