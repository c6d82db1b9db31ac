"""The open orders' sparse index (GSI4) on the deployed local table: written by the capture's
header Put, gone once the order is COMPLETED or CANCELLED, found by the reconciler's Query of
a shard only once due; its postponement is conditional (two runs at once: one wins, and an order
completed meanwhile never comes back). And a notice claim's lease: a channel left SENDING is
claimed again only after it, once."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

import boto3
import pytest

from functions.capture.adapters.order_table import OrderTable
from functions.core.adapters.dynamodb import from_item, to_item
from functions.core.adapters.keys import header_key, notice_key, open_shard
from functions.core.events import after, utc_now
from functions.core.orders import OrderStatus, TimelineEntry
from functions.invoice.adapters.invoice_table import InvoiceTable
from functions.notify.adapters.notice_table import NoticeTable
from functions.reconcile.adapters.open_order_index import OpenOrderIndex
from functions.reconcile.ports import Due
from localcloud.server import LocalCloud
from tests.unit.test_invoicing import order_with

pytestmark = pytest.mark.timeout(120)

EMAIL = {"email": {"to": "ada@example.com", "subject": "s", "text": "t", "html": "<p>t</p>",
                   "sender": "orders@acme.example", "at": "2026-11-23T10:00:00.000Z"}}


def _header(table: str, order_id: str) -> dict[str, Any]:
    item = boto3.client("dynamodb").get_item(TableName=table, ConsistentRead=True,
                                             Key=to_item(header_key(order_id)))["Item"]
    return from_item(item)


def _captured(table: str, status: OrderStatus = OrderStatus.CAPTURED, open_for: int = 900) -> Any:
    order = order_with([{"sku": "A", "quantity": 1, "unit_price": "10.00"}], [[1]], dispatched=False)
    order = replace(order, channel_order_id=None, status=status, created_at=utc_now())
    OrderTable(table, open_for=open_for).create(order, TimelineEntry(order.created_at, "OrderCaptured", {}))
    return order


def _due_ids(table: str, order_id: str, now: str) -> list[str]:
    return [d.order_id for d in OpenOrderIndex(table).due(open_shard(order_id), now, 1000)]


def test_capture_puts_the_header_on_the_index_due_after_the_threshold(cloud: LocalCloud,
                                                                       outputs: dict[str, str]) -> None:
    table = outputs["TableName"]
    order = _captured(table)
    header = _header(table, order.order_id)
    assert header["GSI4PK"] == f"OPEN#{open_shard(order.order_id)}"
    assert header["GSI4SK"] == f"{after(order.created_at, 900)}#{order.order_id}"
    # not due now; due once the threshold has passed
    assert order.order_id not in _due_ids(table, order.order_id, utc_now())
    assert order.order_id in _due_ids(table, order.order_id, after(order.created_at, 901))
    # the order reader sees when it is due
    read = OrderTable(table).get(order.order_id)
    assert read is not None and read.check_after == after(order.created_at, 900)


def test_the_cancel_takes_the_order_off_the_index(cloud: LocalCloud, outputs: dict[str, str]) -> None:
    table = outputs["TableName"]
    order = _captured(table)
    store = OrderTable(table)
    read = store.get(order.order_id)
    assert read is not None
    store.cancel(read, TimelineEntry(utc_now(), "OrderCancelled", {}), "CUSTOMER", None)
    header = _header(table, order.order_id)
    assert header["status"] == "CANCELLED" and "GSI4PK" not in header and "GSI4SK" not in header
    assert order.order_id not in _due_ids(table, order.order_id, after(utc_now(), 10**6))


def test_the_completion_takes_the_order_off_the_index(cloud: LocalCloud, outputs: dict[str, str]) -> None:
    table = outputs["TableName"]
    order = _captured(table, OrderStatus.SHIPPED)
    boto3.client("dynamodb").update_item(TableName=table, Key=to_item(header_key(order.order_id)),
                                         UpdateExpression="SET settled_invoices = :n",
                                         ExpressionAttributeValues={":n": {"N": "1"}})
    assert InvoiceTable(table).complete(order, 1, TimelineEntry(utc_now(), "OrderCompleted", {}))
    header = _header(table, order.order_id)
    assert header["status"] == "COMPLETED" and "GSI4PK" not in header and "GSI4SK" not in header


def test_two_runs_postponing_one_order_at_once_one_wins(cloud: LocalCloud, outputs: dict[str, str]) -> None:
    table = outputs["TableName"]
    order = _captured(table, open_for=0)
    (due,) = [d for d in OpenOrderIndex(table).due(open_shard(order.order_id), after(utc_now(), 1), 1000)
              if d.order_id == order.order_id]
    barrier = threading.Barrier(2)
    results: list[bool] = []

    def postpone(minutes: int) -> None:
        index = OpenOrderIndex(table, boto3.client("dynamodb"))  # its own client, as two runs would have
        barrier.wait()
        results.append(index.postpone(due, after(utc_now(), minutes * 60)))

    threads = [threading.Thread(target=postpone, args=(m,)) for m in (15, 30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False, True]  # the second write was refused by its condition
    assert _header(table, order.order_id)["GSI4SK"] != due.check_after


def test_a_postponement_never_puts_a_completed_order_back(cloud: LocalCloud, outputs: dict[str, str]) -> None:
    table = outputs["TableName"]
    order = _captured(table, OrderStatus.SHIPPED, open_for=0)
    seen = Due(order.order_id, _header(table, order.order_id)["GSI4SK"])
    boto3.client("dynamodb").update_item(TableName=table, Key=to_item(header_key(order.order_id)),
                                         UpdateExpression="SET settled_invoices = :n",
                                         ExpressionAttributeValues={":n": {"N": "1"}})
    assert InvoiceTable(table).complete(order, 1, TimelineEntry(utc_now(), "OrderCompleted", {}))
    assert OpenOrderIndex(table).postpone(seen, after(utc_now(), 900)) is False
    assert "GSI4SK" not in _header(table, order.order_id)


def test_a_claim_left_sending_is_claimed_again_only_after_its_lease_and_once(cloud: LocalCloud,
                                                                              outputs: dict[str, str]) -> None:
    table = outputs["TableName"]
    order = _captured(table)
    notice_id = f"order_confirmed#{order.order_id}"
    held = NoticeTable(table, lease_seconds=300)
    assert held.claim(order.order_id, notice_id, "order_confirmed", EMAIL).send == {"email"}
    # the sender crashed: the channel stays SENDING; within the lease nobody sends it again
    assert held.claim(order.order_id, notice_id, "order_confirmed", EMAIL).send == frozenset()
    # past the lease (set it in the past, as time would): two re-claims at once, one sends
    boto3.client("dynamodb").update_item(TableName=table, Key=to_item(notice_key(order.order_id, notice_id)),
                                         UpdateExpression="SET lease_until = :past",
                                         ExpressionAttributeValues={":past": {"S": "2026-01-01T00:00:00.000Z"}})
    barrier = threading.Barrier(2)
    claims: list[frozenset[str]] = []

    def claim() -> None:
        table_adapter = NoticeTable(table, boto3.client("dynamodb"), lease_seconds=300)
        barrier.wait()
        claims.append(table_adapter.claim(order.order_id, notice_id, "order_confirmed", EMAIL).send)

    threads = [threading.Thread(target=claim) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claims, key=len) == [frozenset(), frozenset({"email"})]
    item = from_item(boto3.client("dynamodb").get_item(
        TableName=table, ConsistentRead=True, Key=to_item(notice_key(order.order_id, notice_id)))["Item"])
    assert item["lease_until"] > utc_now() and item["channels"]["email"]["status"] == "SENDING"
    # recorded as sent: never claimed again, lease or not
    held.record(order.order_id, notice_id, {"email": ("SENT", "m-1")}, [])
    boto3.client("dynamodb").update_item(TableName=table, Key=to_item(notice_key(order.order_id, notice_id)),
                                         UpdateExpression="SET lease_until = :past",
                                         ExpressionAttributeValues={":past": {"S": "2026-01-01T00:00:00.000Z"}})
    assert held.claim(order.order_id, notice_id, "order_confirmed", EMAIL).send == frozenset()
