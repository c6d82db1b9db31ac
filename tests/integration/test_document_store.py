"""The rendered documents on the local cloud (moto): finance's index of a month and by number, the
files in the document bucket, the mark written once even when two renderers race, and the link
that downloads what was stored."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

import boto3
import httpx
import pytest
from botocore.exceptions import ClientError

from functions.capture.adapters.order_table import OrderTable
from functions.core.adapters.dynamodb import to_item
from functions.core.orders import OrderStatus, TimelineEntry
from functions.invoice.adapters.document_bucket import DocumentBucket, object_keys
from functions.invoice.adapters.document_index import DocumentIndexTable
from functions.invoice.adapters.invoice_table import invoice_item
from functions.invoice.billing import bill
from localcloud.server import LocalCloud
from tests.unit.test_invoicing import order_with

AT = "2026-11-24T01:00:00.000Z"


def _invoiced(table: str, number: str, issued_at: str = AT) -> Any:
    order = replace(order_with([{"sku": "A", "quantity": 1, "unit_price": "10.00"}], [[1]]), channel_order_id=None)
    OrderTable(table).create(replace(order, status=OrderStatus.SHIPPED), TimelineEntry(AT, "OrderCaptured", {}))
    invoice = bill(order, order.shipments[0], number=number, issued_at=issued_at, legal_entity="ACME-IT",
                   with_shipping=True)
    boto3.client("dynamodb").put_item(TableName=table, Item=to_item(invoice_item(invoice)))
    return order, invoice


def test_finance_finds_a_months_documents_and_a_number_s_order(cloud: LocalCloud, outputs: dict[str, str]) -> None:
    table = outputs["TableName"]
    _invoiced(table, "INV-2026-900001", "2026-11-03T08:00:00.000Z")
    second, _ = _invoiced(table, "INV-2026-900002", "2026-11-04T23:59:59.999Z")
    _invoiced(table, "INV-2026-900003", "2026-11-05T00:00:00.000Z")
    index = DocumentIndexTable(table)
    page, token = index.month("ACME-IT", "2026-11", first="2026-11-03", last="2026-11-04", kind=None, limit=1,
                              token=None)
    rest, end = index.month("ACME-IT", "2026-11", first="2026-11-03", last="2026-11-04", kind=None, limit=5,
                            token=token)
    assert [d["invoice_number"] for d in page + rest] == ["INV-2026-900001", "INV-2026-900002"] and end is None
    assert index.month("ACME-IT", "2026-11", first="2026-11-01", last="2026-11-30", kind="credit_note", limit=5,
                       token=None) == ([], None)
    assert index.order_of("INV-2026-900002") == second.order_id
    assert index.order_of("INV-2026-999999") is None


def test_two_renderers_racing_write_the_mark_once_and_the_link_downloads_the_pdf(
        cloud: LocalCloud, outputs: dict[str, str]) -> None:
    table, bucket = outputs["TableName"], outputs["DocumentBucketName"]
    order, invoice = _invoiced(table, "INV-2026-900010")
    start = threading.Barrier(2, timeout=10)
    results: list[bool] = []
    errors: list[BaseException] = []

    def render(n: int) -> None:
        # each renderer its own clients, as two Lambda containers would have
        store = DocumentBucket(table, bucket, boto3.client("dynamodb"), boto3.client("s3"))
        start.wait()
        try:
            results.append(store.store(order.order_id, "ACME-IT", invoice.invoice_number, b"%PDF-1.7 " + bytes([n]),
                                       b"<Invoice/>", AT))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=render, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors
    # exactly one mark: the other's conditional put was refused
    assert sorted(results) == [False, True]
    store = DocumentBucket(table, bucket)
    files = store.files(order.order_id, invoice.invoice_number)
    assert files == object_keys("ACME-IT", invoice.invoice_number)
    assert files.pdf_key == "ACME-IT/2026/INV-2026-900010.pdf"
    # the link downloads the PDF (a presigned GET on the emulator's endpoint)
    pdf = httpx.get(store.link(files.pdf_key, "INV-2026-900010.pdf"), timeout=10)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-1.7")
    assert pdf.headers["content-type"] == "application/pdf"
    # and a link to nothing is not a file
    with pytest.raises(ClientError) as missing:
        boto3.client("s3").head_object(Bucket=bucket, Key="ACME-IT/2026/INV-2026-000000.pdf")
    assert missing.value.response["Error"]["Code"] in ("404", "NoSuchKey")
