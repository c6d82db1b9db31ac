"""Receipts of one return on the deployed local stack, through the adapters: four receipts of two
units each of a return of five units, released together, each with its own client as four
function instances would be — exactly two land (the third unit-pair would exceed what was
authorised) and at least one was refused by the write's condition (the return's version), not by
a read that happened to come late; the node's stock rose by exactly the resellable units
received, in the receipts' own writes (which carry the restock mark: the SKU's backorders are
tried again)."""

from __future__ import annotations

import threading
from typing import Any

import boto3
import pytest

from functions.core.adapters.dynamodb import from_item, to_item
from functions.core.adapters.keys import stock_key
from functions.core.adapters.order_reader import OrderTableReader
from functions.core.errors import ValidationFailed
from functions.core.principal import Principal
from functions.core.returns import ReceiptCondition, ReceivedLine, ReturnReason
from functions.returns.adapters.return_table import ReturnNodeReader, ReturnTable
from functions.returns.authorizing import RequestedLine, ReturnRequest, ReturnService
from functions.returns.ports import ReturnMoved
from functions.returns.receiving import ReceiptRequest, ReceivingService
from localcloud.server import LocalCloud
from tests.integration.test_return_ledger import dispatched_order

pytestmark = pytest.mark.timeout(120)


class Counting(ReturnTable):
    refused: list[str] = []

    def receive(self, **kwargs: Any) -> None:
        try:
            super().receive(**kwargs)
        except ReturnMoved:
            Counting.refused.append("version")
            raise


def stock(table: str, sku: str) -> dict[str, Any]:
    return from_item(boto3.client("dynamodb").get_item(
        TableName=table, Key=to_item(stock_key(sku, "DC-BERLIN")), ConsistentRead=True)["Item"])


def test_four_receipts_of_two_units_of_a_return_of_five_at_once_land_two(
        cloud: LocalCloud, outputs: dict[str, str]) -> None:
    table = outputs["TableName"]
    order_id = dispatched_order(cloud, 5)
    order = OrderTableReader(table).get(order_id)
    assert order is not None
    sku = order.lines[0].sku
    ReturnService(orders=OrderTableReader(table), store=ReturnTable(table), nodes=ReturnNodeReader(table)).authorize(
        order_id, Principal("agent", "a"), ReturnRequest((RequestedLine("1", 5, ReturnReason.CHANGED_MIND),)))
    (ret,) = OrderTableReader(table).get(order_id).returns  # type: ignore[union-attr]
    node = Principal("node", ret.return_to_node)
    assert node.principal_id == "DC-BERLIN"
    on_hand = int(stock(table, sku)["on_hand"])
    Counting.refused = []
    start = threading.Barrier(4, timeout=20)
    outcomes: list[str] = []

    def one(n: int) -> None:
        client = boto3.client("dynamodb")
        receiving = ReceivingService(orders=OrderTableReader(table, client), store=Counting(table, client))
        start.wait()
        try:
            receiving.receive(ret.return_id, node, ReceiptRequest(f"R{n}", (
                ReceivedLine("1", 1, ReceiptCondition.RESELLABLE), ReceivedLine("1", 1, ReceiptCondition.DAMAGED))))
            outcomes.append("received")
        except ValidationFailed:
            outcomes.append("refused")

    threads = [threading.Thread(target=one, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=90)
    assert sorted(outcomes) == ["received"] * 2 + ["refused"] * 2, outcomes
    assert Counting.refused, "no conditional write was refused: the receipts did not overlap"
    (after,) = OrderTableReader(table).get(order_id).returns  # type: ignore[union-attr]
    assert after.status.value == "PARTIALLY_RECEIVED" and after.received == {"1": 4} and len(after.receipts) == 2
    record = stock(table, sku)
    # two resellable units back, one per landed receipt; the damaged ones were not restocked
    assert int(record["on_hand"]) == on_hand + 2 and int(record["available"]) == int(record["on_hand"]) - int(
        record.get("reserved", 0))
