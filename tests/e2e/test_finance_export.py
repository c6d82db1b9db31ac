"""Issue 15, the export: a few orders of the day on the local stack — a card order captured, one
whose capture is declined (finance's review list), an on-account order partly paid — their finance
events archived to the local finance bucket, then `oms finance export` of the day as finance runs
it: every currency reconciles, `difference: 0.00`, and the ledger has each document and payment.

Needs the archive (bus → Firehose → finance bucket) and receivables (open items, payments) of
issue 15 on the stack."""

from __future__ import annotations

import csv
import io
import json
import re
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from localcloud.launcher import free_port
from oms.finance import parse_reconciliation
from tests.e2e.conftest import KEYS
from tests.e2e.orders import key, new_order
from tests.e2e.test_capture_api import post_order
from tests.e2e.test_inventory_api import put_stock, sku
from tests.e2e.test_invoicing import finished, placed, ship_all
from tests.e2e.test_oms_cli import oms, port_of
from tests.e2e.test_receivables import shipped_on_account

pytestmark = pytest.mark.timeout(400)

FINANCE = {"x-api-key": KEYS["finance"]}
MARKETPLACE = {"x-api-key": KEYS["marketplace"]}
#: How long the day's export is asked again while other tests' documents settle on the shared stack.
EXPORT_SETTLE_SECONDS = 30.0
ARCHIVE_WAIT_SECONDS = 180


def archived(aws: Any, bucket: str) -> list[dict[str, Any]]:
    """Every envelope in the finance bucket's events/ prefix."""
    s3, found = aws("s3"), []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="events/"):
        for o in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read().decode()
            found.extend(json.loads(line) for line in body.splitlines() if line.strip())
    return found


def wait_for_archive(aws: Any, bucket: str, wanted: set[tuple[str, str]]) -> None:
    """Until every (detail-type, invoice number) of ``wanted`` is in the archive."""
    deadline = time.monotonic() + ARCHIVE_WAIT_SECONDS
    while True:
        have = {(e["detail-type"], e["detail"]["data"].get("invoice_number")) for e in archived(aws, bucket)}
        missing = wanted - have
        if not missing:
            return
        assert time.monotonic() < deadline, f"not archived after {ARCHIVE_WAIT_SECONDS} s: {sorted(missing)}"
        time.sleep(2)


def filled_aside(http: httpx.Client, parsed: dict[str, Any]) -> tuple[list[str], dict[str, Decimal]]:
    """The export's findings that are not about history ``oms local fill`` wrote (a filled copy's
    customer is ``FILL-C…``: written with no finance events), and those findings' effect per currency."""
    left: list[str] = []
    effect: dict[str, Decimal] = {}
    for line in parsed["findings"]:
        kind, number, currency, amount = re.match(r"(\S+) (\S+) \((\S+) ([^)\s]+)\)", line).groups()  # type: ignore[union-attr]
        doc = http.get(f"/invoices/{number}", headers=FINANCE)
        order = http.get(f"/orders/{doc.json()['order_id']}", headers=FINANCE).json() if doc.status_code == 200 \
            else {}
        if kind in ("not_archived", "capture_not_archived") \
                and str(order.get("customer", {}).get("customer_id", "")).startswith("FILL-C"):
            effect[currency] = effect.get(currency, Decimal(0)) + Decimal(amount)
        else:
            left.append(line)
    return left, effect


def test_the_days_export_reconciles_in_every_currency(stack: str, http: httpx.Client, aws: Any,
                                                      local_info: dict[str, Any]) -> None:
    # Given a card order captured, a declined one on finance's review list, an on-account one partly paid
    item = sku()
    put_stock(http, item, "DC-BERLIN", 10, KEYS["dc"])
    card = placed(http, [{"sku": item, "quantity": 1, "unit_price": "25.00"}],
                  payment={"method": "card", "authorization_id": "auth_8xk2", "amount": "99.00"})
    declined = placed(http, [{"sku": item, "quantity": 1, "unit_price": "10.00"}],
                      payment={"method": "card", "authorization_id": "auth_decline_expired", "amount": "99.00"})
    for order in (card, declined):
        ship_all(http, order["order_id"])
    card, declined = (finished(http, o["order_id"], headers=FINANCE) for o in (card, declined))
    assert card["status"] == "COMPLETED" and declined["invoices"][0]["payment_status"] == "FAILED"
    account = shipped_on_account(http, "B2B-1000", "40.00", quantity=2)
    (open_invoice,) = account["invoices"]
    paid = http.post(f"/invoices/{open_invoice['invoice_number']}/payments", headers=FINANCE, json={
        "payment_reference": f"BANK-{key()}", "amount": "20.00",
        "received_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")})
    assert paid.status_code == 201, paid.text
    numbers = {o["invoices"][0]["invoice_number"] for o in (card, declined, account)}
    # and their finance events in the local finance bucket
    wait_for_archive(aws, local_info["finance_bucket"], {
        *(("InvoiceIssued", n) for n in numbers), ("PaymentCaptured", card["invoices"][0]["invoice_number"]),
        ("PaymentReceived", open_invoice["invoice_number"])})
    day = min(str(o["invoices"][0]["issued_at"])[:10] for o in (card, declined, account))
    last = max(str(o["invoices"][0]["issued_at"])[:10] for o in (card, declined, account))
    # When finance exports the day (again while the day's books are still moving: the stack is
    # shared, and other tests' orders may be between their invoice and its archived events — the
    # day reconciles once their asynchronous work has settled, as finance exports a closed period)
    deadline = time.monotonic() + EXPORT_SETTLE_SECONDS
    while True:
        result = oms("finance", "export", "--from", day, "--to", last, "--format", "csv", port=port_of(stack),
                     timeout=180)
        books = parse_reconciliation(result.stdout.partition("\n\n")[2])
        if result.returncode != 0 or not filled_aside(http, books)[0] or time.monotonic() > deadline:
            break
        time.sleep(2)
    # Then it ran, and each currency's block ends 0.00 — but for history `oms local fill` wrote
    # straight into the table (an import: no finance events, so nothing archived; another test
    # fills this stack), which the export names, never hides, and which is all it names
    assert result.returncode == 0, result.stderr
    ledger_text, _, reconciliation = result.stdout.partition("\n\n")
    parsed = parse_reconciliation(reconciliation)
    left, filled_effect = filled_aside(http, parsed)
    assert parsed["currencies"] and left == [], reconciliation
    for currency, terms in parsed["currencies"].items():
        assert Decimal(terms["difference"]) == filled_effect.get(currency, Decimal(0)), (currency, reconciliation)
    assert result.stdout.rstrip().splitlines()[-1].startswith("difference: ")
    # and the ledger has our documents (from the table) and payments (from the archive)
    rows = list(csv.DictReader(io.StringIO(ledger_text)))
    have = {(r["kind"], r["number"], r["source"]) for r in rows}
    assert {("invoice", n, "table") for n in numbers} <= have
    assert ("payment_captured", card["invoices"][0]["invoice_number"], "archive") in have
    assert ("payment_received", open_invoice["invoice_number"], "archive") in have
    eur = parsed["currencies"]["EUR"]
    assert float(eur["review"]) >= float(declined["invoices"][0]["gross"])


def test_a_period_that_is_none_is_refused_naming_the_option() -> None:
    # When finance asks for a period that ends before it starts, or a longer one than a year and a day
    # (checked before any stack is asked: none answers on this port)
    backwards = oms("finance", "export", "--from", "2026-11-30", "--to", "2026-11-01", port=free_port())
    too_long = oms("finance", "export", "--from", "2026-01-01", "--to", "2027-01-02", port=free_port())
    # Then each is a clear error naming --to, and nothing is exported
    for result in (backwards, too_long):
        assert result.returncode == 2 and "--to" in result.stderr and not result.stdout, result.stderr


def sku_with_stock(http: httpx.Client) -> str:
    item = sku()
    put_stock(http, item, "DC-BERLIN", 5, KEYS["dc"])
    return item


def test_an_export_of_a_day_ahead_on_the_local_clock_reads_that_days_archive(stack: str, http: httpx.Client,
                                                                             aws: Any,
                                                                             local_info: dict[str, Any]) -> None:
    # Given the local clock a day ahead (documents, events and the archive's days follow it; not
    # today: a reset does not rewind what the test writes ahead, and today's exports of the
    # other tests must not see a payment of theirs days ahead), an on-account order invoiced then
    assert http.post("/_local/clock", json={"advance": "P1D"}).status_code == 200
    try:
        (open_invoice,) = shipped_on_account(http, "B2B-1000", "40.00", quantity=2)["invoices"]
        invoiced = open_invoice["issued_at"][:10]
        # and 44 days later
        assert http.post("/_local/clock", json={"advance": "P44D"}).status_code == 200
        now = http.get("/_local/clock").json()["now"]
        ahead = now[:10]
        # where the on-account invoice is paid
        paid = http.post(f"/invoices/{open_invoice['invoice_number']}/payments", headers=FINANCE, json={
            "payment_reference": f"BANK-{key()}", "amount": open_invoice["gross"], "received_at": now[:19] + "Z"})
        assert paid.status_code == 201, paid.text
        # and a card order placed, shipped and captured on that day (through the marketplace: the
        # webshop's listing, newest first, must not start with an order days ahead for other tests)
        body = new_order(lines=[{"sku": sku_with_stock(http), "quantity": 1, "unit_price": "31.00"}],
                         payment={"method": "card", "authorization_id": "auth_8xk2", "amount": "99.00"})
        r = post_order(http, body, key(), api_key=KEYS["marketplace"])
        assert r.status_code == 201, r.text
        order = r.json()
        deadline = time.monotonic() + 10
        while http.get(f"/orders/{order['order_id']}", headers=MARKETPLACE).json()["status"] != "IN_FULFILLMENT":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        ship_all(http, order["order_id"])
        order = finished(http, order["order_id"], headers=FINANCE)
        (invoice,) = order["invoices"]
        assert order["status"] == "COMPLETED" and invoice["issued_at"][:10] == ahead, invoice
        number = invoice["invoice_number"]
        wait_for_archive(aws, local_info["finance_bucket"], {
            ("InvoiceIssued", number), ("PaymentCaptured", number),
            ("PaymentReceived", open_invoice["invoice_number"])})
        # When finance exports that day, and the invoice's (the command's "today" is the stack's
        # clock's, not the host's: the archive is read up to the day after it)
        result = oms("finance", "export", "--from", ahead, "--to", ahead, "--format", "csv", port=port_of(stack),
                     timeout=180)
        earlier = oms("finance", "export", "--from", invoiced, "--to", invoiced, "--format", "csv",
                      port=port_of(stack), timeout=180)
    finally:
        assert http.post("/_local/clock", json={"reset": True}).status_code == 200
    # Then the invoice's day has the payment received 44 days later, and no finding about the invoice
    assert earlier.returncode == 0, earlier.stderr
    earlier_ledger, _, earlier_reconciliation = earlier.stdout.partition("\n\n")
    assert ("payment_received", open_invoice["invoice_number"], "archive") in {
        (r["kind"], r["number"], r["source"]) for r in csv.DictReader(io.StringIO(earlier_ledger))}
    assert not [f for f in parse_reconciliation(earlier_reconciliation)["findings"]
                if f" {open_invoice['invoice_number']} " in f], earlier_reconciliation
    # and the day ahead's export read that day's archive: the capture is there, nothing missing, 0.00
    assert result.returncode == 0, result.stderr
    ledger_text, _, reconciliation = result.stdout.partition("\n\n")
    parsed = parse_reconciliation(reconciliation)
    assert parsed["findings"] == [] and parsed["currencies"], reconciliation
    assert all(terms["difference"] == "0.00" for terms in parsed["currencies"].values()), reconciliation
    assert result.stdout.rstrip().splitlines()[-1] == "difference: 0.00"
    have = {(r["kind"], r["number"], r["source"]) for r in csv.DictReader(io.StringIO(ledger_text))}
    assert {("invoice", number, "table"), ("payment_captured", number, "archive")} <= have
