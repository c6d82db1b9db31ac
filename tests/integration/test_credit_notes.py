"""Credit notes on the deployed local stack, through the adapters: receipts of four orders'
returns land at once, each with its own client as four function instances would, and each
credits its receipt at once (the stream starts a return_processing run per receipt too, which
races them). Every receipt gets exactly one credit note, the numbers are consecutive from where
the counter stood (no gap, no number twice), at least one issue was refused by the write's
condition, and each return ends REFUNDED with its note refunded."""

from __future__ import annotations

import threading
from typing import Any

import boto3
import pytest

from functions.core.adapters.order_reader import OrderTableReader
from functions.core.orders import Order
from functions.core.principal import Principal
from functions.core.returns import ReceiptCondition, ReceivedLine, ReturnReason
from functions.invoice.adapters.credit_note_table import CreditNoteTable
from functions.invoice.adapters.local_payments import LocalPaymentProvider
from functions.invoice.refunding import RefundService
from functions.returns.adapters.return_table import ReturnNodeReader, ReturnTable
from functions.returns.authorizing import RequestedLine, ReturnRequest, ReturnService
from functions.returns.receiving import ReceiptRequest, ReceivingService
from localcloud.server import LocalCloud
from tests.integration.test_return_ledger import dispatched_order

pytestmark = pytest.mark.timeout(240)

ORDERS = 4
LE = "ACME-DE"


class Counting(CreditNoteTable):
    refused: list[str] = []

    def issue(self, *args: Any, **kwargs: Any) -> str:
        outcome = super().issue(*args, **kwargs)
        if outcome != "issued":
            Counting.refused.append(outcome)
        return outcome


def read(table: str, order_id: str) -> Order:
    order = OrderTableReader(table).get(order_id)
    assert order is not None
    return order


def test_receipts_of_four_orders_credited_at_once_take_consecutive_numbers(
        cloud: LocalCloud, outputs: dict[str, str]) -> None:
    table = outputs["TableName"]
    order_ids = [dispatched_order(cloud, 2) for _ in range(ORDERS)]
    returns = []
    for order_id in order_ids:
        order = read(table, order_id)
        assert order.invoices and order.invoices[0].payment_status.value == "CAPTURED", order.invoices
        ReturnService(orders=OrderTableReader(table), store=ReturnTable(table),
                      nodes=ReturnNodeReader(table)).authorize(
            order_id, Principal("agent", "a"), ReturnRequest((RequestedLine("1", 1, ReturnReason.DAMAGED),)))
        returns.append(read(table, order_id).returns[0])
    before = CreditNoteTable(table).last_number(LE, int(returns[0].created_at[:4]))
    Counting.refused = []
    start = threading.Barrier(ORDERS, timeout=30)
    results: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def one(n: int) -> None:
        client = boto3.client("dynamodb")  # each its own, as separate function instances
        ret = returns[n]
        receiving = ReceivingService(orders=OrderTableReader(table, client), store=ReturnTable(table, client))
        refunds = RefundService(orders=OrderTableReader(table, client), store=Counting(table, client),
                                payments=LocalPaymentProvider(), legal_entity=LE)
        start.wait()
        try:
            receiving.receive(ret.return_id, Principal("node", ret.return_to_node), ReceiptRequest(
                f"R-{n}", (ReceivedLine("1", 1, ReceiptCondition.RESELLABLE),)))
            results.append(refunds.refund_receipt(ret.order_id, ret.return_id, f"R-{n}"))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(ORDERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)
    assert not errors, errors
    cloud.settle(30)  # the stream's own runs for the same receipts find the notes issued
    assert Counting.refused, "no issue was refused by its condition: the credits did not overlap"
    after = CreditNoteTable(table).last_number(LE, int(returns[0].created_at[:4]))
    numbers = []
    for order_id in order_ids:
        order = read(table, order_id)
        (cn,) = order.credit_notes  # one per receipt, however many runs credited it
        assert cn.corrects == order.invoices[0].invoice_number and 0 < cn.gross < order.invoices[0].gross
        assert cn.refunded_at and cn.refund_status.value == "REFUNDED"
        assert order.returns[0].status.value == "REFUNDED"
        numbers.append(int(cn.credit_note_number.rsplit("-", 1)[1]))
    assert sorted(numbers) == list(range(before + 1, after + 1)), (before, after, numbers)
    assert {r["credit_notes"][0] for r in results} == {f"CN-{returns[0].created_at[:4]}-{n:06d}" for n in numbers}
