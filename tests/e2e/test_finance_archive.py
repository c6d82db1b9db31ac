"""The finance archive on the local stack: the bus's finance events land in the local finance bucket
(``finance_bucket`` in ``/_local/info``) as Firehose writes them on AWS — ``events/dt=<day>/…``, one
EventBridge event a line — and each archived record's ``detail`` is valid for its event's JSON
Schema (schemas/events/). Orders are run through the API as a webshop, a warehouse and finance
would; whatever of the six finance events the archive holds is checked, and those these orders
produce must be there."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import KEYS
from tests.e2e.test_capture_api import WEBSHOP
from tests.e2e.test_inventory_api import put_stock, sku
from tests.e2e.test_invoicing import events, finished, placed, ship_all
from tests.e2e.test_returns import ask_return, dispatched, receive, refunded
from tests.event_schemas import event_types, problems

KEY = re.compile(r"^events/dt=(\d{4}-\d{2}-\d{2})/oms-local-finance-archive-\d+-"
                 r"\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-[0-9a-f-]{36}$")


def archived(aws: Any, bucket: str) -> list[tuple[str, dict[str, Any]]]:
    """Every record of the archive, with the key of the object that holds it (one JSON a line)."""
    s3 = aws("s3")
    records = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="events/"):
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read().decode()
            assert body.endswith("\n"), obj["Key"]
            records += [(obj["Key"], json.loads(line)) for line in body.splitlines()]
    return records


def of_orders(aws: Any, bucket: str, order_ids: Iterable[str], wanted: set[tuple[str, str]],
              timeout: float = 15.0) -> list[tuple[str, dict[str, Any]]]:
    """The archive's records once every (order id, detail-type) of ``wanted`` is among them."""
    ids = set(order_ids)
    deadline = time.monotonic() + timeout
    while True:
        records = archived(aws, bucket)
        mine = [(k, r) for k, r in records if r["detail"]["data"].get("order_id") in ids]
        if wanted <= {(r["detail"]["data"]["order_id"], r["detail-type"]) for _, r in mine} \
                or time.monotonic() > deadline:
            return records
        time.sleep(0.2)


@pytest.mark.timeout(120)
def test_every_archived_finance_event_is_one_line_valid_for_its_schema(
        http: httpx.Client, aws: Any, local_info: dict[str, Any]) -> None:
    bucket = local_info["finance_bucket"]
    assert bucket and bucket in {b["Name"] for b in aws("s3").list_buckets()["Buckets"]}
    # Given a card order shipped (invoice, capture), one cancelled (void), one returned (credit
    # note, refund)
    item = sku()
    put_stock(http, item, "DC-BERLIN", 4, KEYS["dc"])
    shipped = placed(http, [{"sku": item, "quantity": 1, "unit_price": "10.00"}])
    ship_all(http, shipped["order_id"])
    assert finished(http, shipped["order_id"])["status"] == "COMPLETED"
    cancelled = placed(http, [{"sku": item, "quantity": 1, "unit_price": "10.00"}])
    assert http.post(f"/orders/{cancelled['order_id']}/cancel", json={"reason": "CUSTOMER"},
                     headers=WEBSHOP).status_code == 200
    returned = dispatched(http, [{"sku": item, "quantity": 1, "unit_price": "10.00"}])
    ret = ask_return(http, returned["order_id"], [{"line_id": "1", "quantity": 1, "reason": "DAMAGED"}]).json()
    assert receive(http, ret, [{"line_id": "1", "quantity": 1, "condition": "RESELLABLE"}],
                   "RCV-ARCHIVE").status_code == 200
    refunded(http, ret["return_id"])
    wanted = {(shipped["order_id"], "InvoiceIssued"), (shipped["order_id"], "PaymentCaptured"),
              (cancelled["order_id"], "PaymentVoided"),
              (returned["order_id"], "CreditNoteIssued"), (returned["order_id"], "PaymentRefunded")}
    # When the archive is read back from the local finance bucket
    records = of_orders(aws, bucket, {o for o, _ in wanted}, wanted)
    # Then each of these orders' finance events is there exactly once (ids stable across redelivery)
    mine = [r for _, r in records if (r["detail"]["data"].get("order_id"), r["detail-type"]) in wanted]
    assert sorted((r["detail"]["data"]["order_id"], r["detail-type"]) for r in mine) == sorted(wanted)
    # and every record the archive holds, of whatever order, is a whole EventBridge event of one of
    # the six finance events, under the day it arrived, its detail valid for its event's schema
    assert records
    found: list[str] = []
    for key, record in records:
        day = KEY.match(key)
        assert day, key
        assert record["time"][:10] in _around(day.group(1)), (key, record["time"])
        assert record["source"] == "oms.invoice" and record["detail-type"] in event_types(), record
        assert {"version", "id", "account", "region", "resources"} <= set(record)
        found += problems(record["detail-type"], record["detail"])
    assert found == []
    # the amounts are the documents' (what the export will sum)
    by_type = {(r["detail"]["data"]["order_id"], r["detail-type"]): r["detail"]["data"] for r in mine}
    assert by_type[(shipped["order_id"], "PaymentCaptured")]["amount"] == \
        by_type[(shipped["order_id"], "InvoiceIssued")]["gross"]
    assert by_type[(returned["order_id"], "PaymentRefunded")]["amount"] == \
        by_type[(returned["order_id"], "CreditNoteIssued")]["gross"]
    # nothing the rule could not deliver
    dlq = local_info["dead_letter_queues"]["oms-local-finance-archive-dlq"]
    attributes = aws("sqs").get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "0"
    assert not events(finished(http, shipped["order_id"]), "FinanceReviewRequired")


def _around(day: str) -> set[str]:
    """The days a record of partition ``day`` may carry in ``time``: the partition is the arrival
    day of the object's oldest record, so an event near midnight can sit in either neighbour."""
    d = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC)
    return {(d + timedelta(days=n)).strftime("%Y-%m-%d") for n in (-1, 0, 1)}
