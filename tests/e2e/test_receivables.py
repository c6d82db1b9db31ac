"""Issue 15, receivables: an on-account customer through the API, as finance and the channel see
it — the account set by finance, the invoice due on its issue date plus the terms as an open
item, partial and full payments (once per reference, never above what is open), the balance and
its ageing by the local clock, the credit back once paid, PaymentReceived on the event bus, and
finance's review list."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import KEYS
from tests.e2e.orders import key, new_order
from tests.e2e.test_capture_api import post_order
from tests.e2e.test_inventory_api import put_stock, sku
from tests.e2e.test_invoicing import finished, placed, ship_all
from tests.event_schemas import problems

pytestmark = pytest.mark.timeout(180)

FINANCE = {"x-api-key": KEYS["finance"]}
MARKETPLACE = {"x-api-key": KEYS["marketplace"]}


@pytest.fixture
def clock(http: httpx.Client) -> Iterator[httpx.Client]:
    http.post("/_local/settle", timeout=60)  # nothing of an earlier test is written in moved time
    yield http
    assert http.post("/_local/clock", json={"reset": True}).status_code == 200


@pytest.fixture
def payments_on_the_bus(aws: Any, local_info: dict[str, Any]) -> Iterator[Any]:
    """A queue subscribed to the bus's PaymentReceived events, as a finance consumer would be."""
    sqs, events = aws("sqs"), aws("events")
    name = f"received-tap-{uuid.uuid4().hex[:8]}"
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    bus = local_info["event_bus_name"]
    events.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps(
        {"source": ["oms.invoice"], "detail-type": ["PaymentReceived"]}))
    events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "tap", "Arn": arn}])

    def received(order_id: str, count: int) -> list[dict[str, Any]]:
        """The ``detail`` of each PaymentReceived of ``order_id`` delivered (once per event id)."""
        seen: dict[str, dict[str, Any]] = {}
        deadline = time.monotonic() + 15
        while len(seen) < count and time.monotonic() < deadline:
            for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
                body = json.loads(m["Body"])
                if body["detail"]["data"]["order_id"] == order_id:
                    seen[body["detail"]["metadata"]["event_id"]] = body["detail"]
        return sorted(seen.values(), key=lambda d: d["data"]["open_amount"], reverse=True)

    yield received
    events.remove_targets(Rule=name, EventBusName=bus, Ids=["tap"])
    events.delete_rule(Name=name, EventBusName=bus)


def _account(http: httpx.Client, customer_id: str, body: dict[str, Any], headers: dict[str, str] = FINANCE
             ) -> httpx.Response:
    return http.put(f"/customers/marketplace/{customer_id}/credit", json=body, headers=headers)


def _balance(http: httpx.Client, customer_id: str) -> dict[str, Any]:
    r = http.get(f"/customers/marketplace/{customer_id}/balance", headers=FINANCE)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _pay(http: httpx.Client, number: str, reference: str, amount: str, **more: str) -> httpx.Response:
    return http.post(f"/invoices/{number}/payments", json={"payment_reference": reference, "amount": amount, **more},
                     headers=FINANCE)


def shipped_on_account(http: httpx.Client, customer_id: str, unit_price: str, quantity: int = 1) -> dict[str, Any]:
    """An on-account marketplace order of ``customer_id``, shipped and COMPLETED (its invoice open)."""
    item = sku()
    put_stock(http, item, "DC-BERLIN", quantity, KEYS["dc"])
    body = new_order(lines=[{"sku": item, "quantity": quantity, "unit_price": unit_price}],
                     customer={"customer_id": customer_id, "email": "ap@b2b.example", "locale": "de-DE"},
                     payment={"method": "on_account"})
    r = post_order(http, body, key(), api_key=KEYS["marketplace"])
    assert r.status_code == 201, r.text
    order_id = r.json()["order_id"]
    deadline = time.monotonic() + 10
    while http.get(f"/orders/{order_id}", headers=MARKETPLACE).json()["status"] != "IN_FULFILLMENT":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    ship_all(http, order_id)
    done = finished(http, order_id, headers=MARKETPLACE)
    assert done["status"] == "COMPLETED", done["timeline"]
    return done


def test_an_on_account_invoice_is_an_open_item_paid_in_parts_until_the_credit_is_back(
        clock: httpx.Client, payments_on_the_bus: Any) -> None:
    http = clock
    customer = f"B2B-{uuid.uuid4().hex[:8].upper()}"
    # Given finance opens an account of 5000.00 EUR, due 30 days after issue
    r = _account(http, customer, {"currency": "EUR", "credit_limit": "5000.00", "payment_terms_days": 30})
    assert r.status_code == 200, r.text
    account = r.json()
    assert (account["currency"], account["credit_limit"], account["payment_terms_days"],
            account["available_credit"]) == ("EUR", "5000.00", 30, "5000.00")
    # When the customer's on-account order ships
    order = shipped_on_account(http, customer, "100.00")
    (invoice,) = order["invoices"]
    number, gross = invoice["invoice_number"], Decimal(invoice["gross"])
    # Then its invoice is due 30 days after issue and is open for its gross
    doc = http.get(f"/invoices/{number}", headers=FINANCE).json()
    due = (date.fromisoformat(invoice["issued_at"][:10]) + timedelta(days=30)).isoformat()
    assert doc["due_date"] == due and doc["open_amount"] == str(gross) and doc["payment_status"] == "ON_ACCOUNT"
    assert (invoice["due_date"], invoice["open_amount"]) == (due, str(gross))  # the agent's view of the order too
    day = invoice["issued_at"][:10]
    listed = http.get("/invoices", params={"from": day, "to": day, "limit": 200}, headers=FINANCE).json()
    assert {i["invoice_number"]: i["open_amount"] for i in listed["invoices"]}.get(number) == str(gross)
    balance = _balance(http, customer)
    assert balance["open_items"] == [{"invoice_number": number, "order_id": order["order_id"], "due_date": due,
                                      "open_amount": str(gross), "days_overdue": 0}]
    assert balance["available_credit"] == str(Decimal(5000) - gross) and balance["ageing"]["current"] == str(gross)

    # When finance records a payment received at a time with no UTC time, or before the invoice
    for received_at in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-05:00", "0999-05-01T00:00:00Z",
                        "2001-01-01T00:00:00Z"):
        refused = _pay(http, number, "SEPA-E2E-0", "1.00", received_at=received_at)
        # Then it is refused, naming received_at (never a 500), and nothing is recorded
        assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "received_at", refused.text
    assert _balance(http, customer)["open_items"][0]["open_amount"] == str(gross)

    # When finance records a partial payment
    paid = _pay(http, number, "SEPA-E2E-1", "40.00")
    assert paid.status_code == 201, paid.text
    assert paid.json()["open_amount"] == str(gross - 40) and paid.json()["amount"] == "40.00"
    # Then the balance and the available credit show it
    balance = _balance(http, customer)
    assert balance["open_items"][0]["open_amount"] == str(gross - 40)
    assert balance["available_credit"] == str(Decimal(5000) - gross + 40)
    # And the same reference again changes nothing
    again = _pay(http, number, "SEPA-E2E-1", "40.00")
    assert again.status_code == 200 and again.json()["recorded_at"] == paid.json()["recorded_at"]
    assert _balance(http, customer)["available_credit"] == str(Decimal(5000) - gross + 40)
    # And paying more than is open is refused, naming the amount
    over = _pay(http, number, "SEPA-E2E-2", str(gross))
    assert over.status_code == 422 and over.json()["errors"][0]["field"] == "amount", over.text

    # When 45 days pass on the local clock, the item is 15 days overdue, in the 1-30 bucket
    assert http.post("/_local/clock", json={"advance": "P45D"}).status_code == 200
    balance = _balance(http, customer)
    assert balance["open_items"][0]["days_overdue"] == 15
    assert balance["ageing"] == {"current": "0.00", "1-30": str(gross - 40), "31-60": "0.00", "61-90": "0.00",
                                 "90+": "0.00"}
    assert http.post("/_local/clock", json={"reset": True}).status_code == 200

    # When the rest is paid, nothing is open and the credit is back at the limit
    rest = _pay(http, number, "SEPA-E2E-3", str(gross - 40))
    assert rest.status_code == 201 and rest.json()["open_amount"] == "0.00"
    balance = _balance(http, customer)
    assert balance["open_items"] == [] and balance["available_credit"] == "5000.00"
    assert http.get(f"/invoices/{number}", headers=FINANCE).json()["open_amount"] == "0.00"
    # And each payment reached the event bus once, as its JSON Schema says, with what was left open after it
    details = payments_on_the_bus(order["order_id"], 2)
    assert [p for d in details for p in problems("PaymentReceived", d)] == []
    delivered = [d["data"] for d in details]
    assert [(d["payment_reference"], d["amount"], d["open_amount"]) for d in delivered] == [
        ("SEPA-E2E-1", "40.00", str(gross - 40)), ("SEPA-E2E-3", str(gross - 40), "0.00")]
    assert all(d["invoice_number"] == number and d["currency"] == "EUR" and d["received_at"] for d in delivered)


@pytest.mark.parametrize(("body", "field"), [
    ({"currency": "EURO", "credit_limit": "10.00", "payment_terms_days": 30}, "currency"),
    ({"currency": "EUR", "credit_limit": "10.001", "payment_terms_days": 30}, "credit_limit"),
    ({"currency": "EUR", "credit_limit": "10.00", "payment_terms_days": 400}, "payment_terms_days"),
    ({"currency": "EUR", "credit_limit": "10.00"}, "payment_terms_days")])
def test_an_account_finance_cannot_keep_is_refused_naming_the_field(http: httpx.Client, body: dict[str, Any],
                                                                   field: str) -> None:
    customer = f"B2B-{uuid.uuid4().hex[:8].upper()}"
    r = _account(http, customer, body)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == field, r.text
    assert http.get(f"/customers/marketplace/{customer}/balance", headers=FINANCE).status_code == 404


def test_only_finance_sets_an_account_and_a_currency_is_kept_while_something_is_owed(http: httpx.Client) -> None:
    customer = f"B2B-{uuid.uuid4().hex[:8].upper()}"
    body = {"currency": "EUR", "credit_limit": "500.00", "payment_terms_days": 14}
    assert _account(http, customer, body, headers=MARKETPLACE).status_code == 403
    assert _account(http, customer, body).status_code == 200
    shipped_on_account(http, customer, "10.00")
    r = _account(http, customer, {**body, "currency": "GBP"})
    assert r.status_code == 409 and "EUR" in r.json()["detail"], r.text
    # a new limit keeps what is owed
    lowered = _account(http, customer, {**body, "credit_limit": "100.00"}).json()
    assert Decimal(lowered["available_credit"]) == Decimal(100) - Decimal(lowered["exposure"])
    agent = {"x-api-key": KEYS["agent"]}
    assert http.get(f"/customers/marketplace/{customer}/balance", headers=agent).status_code == 200
    assert http.get(f"/customers/marketplace/{customer}/balance", headers=MARKETPLACE).status_code == 403


def test_a_card_invoice_takes_no_payment_and_an_unknown_number_is_404(http: httpx.Client) -> None:
    item = sku()
    put_stock(http, item, "DC-BERLIN", 1, KEYS["dc"])
    order = placed(http, [{"sku": item, "quantity": 1, "unit_price": "10.00"}])
    ship_all(http, order["order_id"])
    (invoice,) = finished(http, order["order_id"])["invoices"]
    assert invoice["payment_status"] == "CAPTURED"
    r = _pay(http, invoice["invoice_number"], "SEPA-CARD", "1.00")
    assert r.status_code == 422 and "on-account" in r.json()["detail"], r.text
    assert http.get(f"/invoices/{invoice['invoice_number']}", headers=FINANCE).json()["open_amount"] is None
    assert _pay(http, "INV-2000-999999", "SEPA-X", "1.00").status_code == 404


def test_finance_reads_the_review_list_with_a_reason_for_each_entry(http: httpx.Client) -> None:
    # Given an order whose capture is declined for good (it goes on finance's review list)
    item = sku()
    put_stock(http, item, "DC-BERLIN", 1, KEYS["dc"])
    body = new_order(lines=[{"sku": item, "quantity": 1, "unit_price": "10.00"}],
                     payment={"method": "card", "authorization_id": "auth_decline_expired", "amount": "99.00"})
    r = post_order(http, body, key())
    assert r.status_code == 201, r.text
    order_id = r.json()["order_id"]
    deadline = time.monotonic() + 10
    while http.get(f"/orders/{order_id}", headers=FINANCE).json()["status"] != "IN_FULFILLMENT":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    ship_all(http, order_id)
    assert finished(http, order_id, headers=FINANCE)["finance_review"]
    # Then the review list shows it, with its reason and error, paged
    entries: list[dict[str, Any]] = []
    token = None
    while True:
        page = http.get("/finance/review", params={"limit": 50, **({"next_token": token} if token else {})},
                        headers=FINANCE)
        assert page.status_code == 200, page.text
        entries += page.json()["entries"]
        token = page.json()["next_token"]
        if not token:
            break
    (entry,) = [e for e in entries if e["order_id"] == order_id]
    assert entry["reason"] == "PaymentDeclined" and entry["shipment_id"] and entry["at"] and entry["invoice_number"]
    assert "expired" in (entry.get("error") or "")
    assert http.get("/finance/review", headers={"x-api-key": KEYS["agent"]}).status_code == 200
    assert http.get("/finance/review", headers=MARKETPLACE).status_code == 403


def test_an_operator_sets_an_account_with_oms_and_reads_its_balance(stack: str, http: httpx.Client) -> None:
    from tests.e2e.test_oms_cli import oms, port_of

    customer = f"B2B-{uuid.uuid4().hex[:8].upper()}"
    # When an operator opens an account from the command line
    set_up = oms("customers", "credit", "marketplace", customer, "--currency", "EUR", "--limit", "2500.00",
                 "--terms", "45", port=port_of(stack))
    assert set_up.returncode == 0, set_up.stderr
    assert json.loads(set_up.stdout)["available_credit"] == "2500.00" and "saved" in set_up.stderr
    # Then the API shows the same account, and the balance command lists it
    balance = _balance(http, customer)
    assert (balance["credit_limit"], balance["payment_terms_days"], balance["open_items"]) == ("2500.00", 45, [])
    shown = oms("customers", "balance", "marketplace", customer, port=port_of(stack))
    assert shown.returncode == 0 and "2500.00 EUR available" in shown.stdout, shown.stdout + shown.stderr
    # And a limit the currency cannot take is refused in one line, naming the field
    refused = oms("customers", "credit", "marketplace", customer, "--currency", "EUR", "--limit", "1.001",
                  port=port_of(stack))
    assert refused.returncode == 1 and "credit_limit" in refused.stderr and "Traceback" not in refused.stderr
    # And a customer id the API would refuse ('#' splits the table's key) is refused the same way
    keyless = oms("customers", "credit", "marketplace", f"{customer}#X", "--currency", "EUR", "--limit", "1.00",
                  port=port_of(stack))
    assert keyless.returncode == 1 and "customer_id" in keyless.stderr and "Traceback" not in keyless.stderr
