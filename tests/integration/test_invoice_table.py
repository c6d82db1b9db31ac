"""The invoice adapter's conditional writes against the table (moto): settling the last
invoice completes the order in the same transaction, and only while that still holds."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import boto3

from functions.capture.adapters.order_table import OrderTable
from functions.core.adapters.dynamodb import from_item, to_item
from functions.core.invoices import PaymentStatus
from functions.core.orders import Order, OrderStatus, TimelineEntry
from functions.invoice.adapters.invoice_table import InvoiceTable, invoice_item
from functions.invoice.billing import bill
from functions.invoice.ports import Completion
from localcloud.server import LocalCloud
from tests.unit.test_invoicing import order_with

AT = "2026-11-24T01:00:00.000Z"


def _shipped_order_with_invoice(table: str) -> tuple[Order, Any]:
    order = order_with([{"sku": "A", "quantity": 1, "unit_price": "10.00"}], [[1]])
    order = replace(order, channel_order_id=None)  # no channel ref: each test's order is its own
    OrderTable(table).create(replace(order, status=OrderStatus.SHIPPED), TimelineEntry(AT, "OrderCaptured", {}))
    invoice = bill(order, order.shipments[0], number=f"INV-2026-{order.order_id[-6:]}", issued_at=AT,
                   legal_entity="ACME-DE", with_shipping=True)
    boto3.client("dynamodb").put_item(TableName=table, Item=to_item(invoice_item(invoice)))
    return order, invoice


def _header(table: str, order_id: str) -> dict[str, Any]:
    item = boto3.client("dynamodb").get_item(TableName=table, ConsistentRead=True,
                                             Key=to_item({"PK": f"ORDER#{order_id}", "SK": "ORDER"}))["Item"]
    return from_item(item)


def _events(table: str, order_id: str) -> list[str]:
    order = OrderTable(table).get(order_id)
    assert order is not None
    return [e.event for e in order.timeline]


def test_settling_the_last_invoice_completes_the_order_in_one_transaction(cloud: LocalCloud,
                                                                          outputs: dict[str, str]) -> None:
    table = outputs["TableName"]
    order, invoice = _shipped_order_with_invoice(table)
    store = InvoiceTable(table)
    completion = Completion(settled_before=0, entry=TimelineEntry(AT, "OrderCompleted", {"invoices": 1}))
    captured = TimelineEntry(AT, "PaymentCaptured", {"invoice_number": invoice.invoice_number})
    assert store.settle(invoice, PaymentStatus.CAPTURED, "pay_1", AT, captured, completion) == "completed"
    header = _header(table, order.order_id)
    assert header["status"] == "COMPLETED" and header["settled_invoices"] == Decimal(1)
    # a repeat (a retried task) changes nothing
    assert store.settle(invoice, PaymentStatus.CAPTURED, "pay_1", AT, captured, completion) == "already"
    # at the same instant, the timeline keeps the order of the facts: captured, then completed
    assert _events(table, order.order_id)[-2:] == ["PaymentCaptured", "OrderCompleted"]
    assert sorted(_events(table, order.order_id)) == ["OrderCaptured", "OrderCompleted", "PaymentCaptured"]
    assert OrderTable(table).get(order.order_id).invoices[0].payment_status == PaymentStatus.CAPTURED  # type: ignore[union-attr]


def test_a_completion_that_no_longer_holds_settles_the_invoice_alone(cloud: LocalCloud,
                                                                     outputs: dict[str, str]) -> None:
    table = outputs["TableName"]
    order, invoice = _shipped_order_with_invoice(table)
    store = InvoiceTable(table)
    # Given another invoice of the order was settled after this run read it (the count moved)
    boto3.client("dynamodb").update_item(
        TableName=table, Key=to_item({"PK": f"ORDER#{order.order_id}", "SK": "ORDER"}),
        UpdateExpression="SET settled_invoices = :n", ExpressionAttributeValues={":n": {"N": "1"}})
    completion = Completion(settled_before=0, entry=TimelineEntry(AT, "OrderCompleted", {"invoices": 1}))
    # Then the invoice is settled and counted, and the order is not completed by this write
    assert store.settle(invoice, PaymentStatus.CAPTURED, "pay_2", AT, None, completion) == "settled"
    header = _header(table, order.order_id)
    assert header["status"] == "SHIPPED" and header["settled_invoices"] == Decimal(2)
    assert "OrderCompleted" not in _events(table, order.order_id)


def test_flagging_with_an_invoice_settled_meanwhile_flags_the_order_and_leaves_the_invoice(
        cloud: LocalCloud, outputs: dict[str, str]) -> None:
    table = outputs["TableName"]
    order, invoice = _shipped_order_with_invoice(table)
    store = InvoiceTable(table)
    assert store.settle(invoice, PaymentStatus.CAPTURED, "pay_3", AT, None) == "settled"
    entry = TimelineEntry(AT, "FinanceReviewRequired", {"reason": "States.Timeout"})
    assert store.flag(order.order_id, order.shipments[0].shipment_id, invoice.invoice_number, "States.Timeout",
                      "", entry) is True
    stored = OrderTable(table).get(order.order_id)
    assert stored is not None and stored.invoices[0].payment_status == PaymentStatus.CAPTURED
    assert [f["reason"] for f in stored.finance_reviews] == ["States.Timeout"]
    # and an order that does not exist gets no flag and no header
    assert store.flag("ord_nope", "shp_nope-1", None, "X", "", entry) is False
    assert OrderTable(table).get("ord_nope") is None


def test_a_resolved_review_leaves_the_finance_list_and_can_be_raised_again_keeping_its_history(
        cloud: LocalCloud, outputs: dict[str, str]) -> None:
    table = outputs["TableName"]
    order, _ = _shipped_order_with_invoice(table)
    store = InvoiceTable(table)
    shipment_id = order.shipments[0].shipment_id
    flagged = TimelineEntry(AT, "FinanceReviewRequired", {"reason": "PaymentDeclined"})
    assert store.flag(order.order_id, shipment_id, None, "PaymentDeclined", "", flagged) is True

    def on_finance_list() -> bool:
        items = boto3.client("dynamodb").query(
            TableName=table, IndexName="GSI1", KeyConditionExpression="GSI1PK = :pk",
            ExpressionAttributeValues={":pk": {"S": "FINANCE#REVIEW"}})["Items"]
        return any(i["summary"]["M"]["order_id"]["S"] == order.order_id for i in items)

    assert on_finance_list() and _header(table, order.order_id)["finance_review"] == {shipment_id}
    resolved = TimelineEntry("2026-11-24T02:00:00.000Z", "FinanceReviewResolved", {"shipment_id": shipment_id})
    assert store.resolve_flag(order.order_id, shipment_id, resolved) is True
    assert store.resolve_flag(order.order_id, shipment_id, resolved) is False  # once
    assert not on_finance_list() and "finance_review" not in _header(table, order.order_id)
    stored = OrderTable(table).get(order.order_id)
    assert stored is not None and stored.finance_reviews == ()
    # a later failure of the same shipment flags it again, and the timeline keeps all three facts
    again = TimelineEntry("2026-11-24T03:00:00.000Z", "FinanceReviewRequired", {"reason": "States.Timeout"})
    assert store.flag(order.order_id, shipment_id, None, "States.Timeout", "", again) is True
    assert store.flag(order.order_id, shipment_id, None, "States.Timeout", "", again) is False  # open: once
    assert on_finance_list()
    events = _events(table, order.order_id)
    assert [e for e in events if e.startswith("FinanceReview")] == [
        "FinanceReviewRequired", "FinanceReviewResolved", "FinanceReviewRequired"]
