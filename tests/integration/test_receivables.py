"""Receivables on the local cloud, through the adapters: a credit account's upsert keeps what is
owed, an on-account settle books the open item in its own transaction, a credit note takes its
gross off it, and payments are recorded once per reference and never for more than is open —
also when two land at the same moment (threads, each with its own client, released together)."""

from __future__ import annotations

import threading
import uuid
from dataclasses import replace
from decimal import Decimal
from typing import Any

import boto3
import pytest

from functions.capture.adapters.order_table import OrderTable
from functions.core.adapters.dynamodb import from_item, to_item
from functions.core.adapters.order_reader import OrderTableReader
from functions.core.errors import Conflict, ValidationFailed
from functions.core.invoices import CreditNote, Invoice, PaymentStatus, RefundStatus
from functions.core.orders import Order, OrderStatus, TimelineEntry
from functions.invoice.adapters.credit_note_table import CreditNoteTable, credit_note_item
from functions.invoice.adapters.document_index import DocumentIndexTable
from functions.invoice.adapters.invoice_table import InvoiceTable, invoice_item
from functions.invoice.adapters.receivable_table import CurrencyLocked, ReceivableTable
from functions.invoice.billing import bill, due_date
from functions.invoice.ports import CreditAccount, OpenItem, PaymentDeclined, ReceivableInconsistent, ReceivablePayment
from functions.invoice.receivables import PaymentCommand, ReceivablesService
from localcloud.server import LocalCloud
from tests.unit.test_invoicing import order_with

pytestmark = pytest.mark.timeout(120)

AT = "2026-11-24T01:00:00.000Z"
LATER = "2026-11-25T09:00:00.000Z"


def _customer() -> str:
    return f"B2B-{uuid.uuid4().hex[:8].upper()}"


def _account(customer_id: str, limit: str = "1000.00", currency: str = "EUR", terms: int = 30) -> CreditAccount:
    return CreditAccount(channel="marketplace", customer_id=customer_id, currency=currency,
                         credit_limit=Decimal(limit), exposure=Decimal(0), available_credit=Decimal(limit),
                         payment_terms_days=terms)


def _raw_account(table: str, customer_id: str) -> dict[str, Any]:
    item = boto3.client("dynamodb").get_item(TableName=table, ConsistentRead=True, Key=to_item(
        {"PK": f"CUSTOMER#marketplace#{customer_id}", "SK": "CREDIT"}))["Item"]
    return from_item(item)


def _booked_invoice(table: str, customer_id: str, gross_price: str = "100.00", *, settle: bool = True
                    ) -> tuple[Order, Invoice]:
    """An on-account order of ``customer_id``, shipped, its invoice issued and settled on account
    (its open item booked), as shipment invoicing leaves it; the account's exposure holds it.
    ``settle=False``: issued, not settled yet (``_settle`` does it)."""
    order = order_with([{"sku": "A", "quantity": 1, "unit_price": gross_price}], [[1]],
                       payment={"method": "on_account"})
    order = replace(order, channel="marketplace", channel_order_id=None,
                    customer=replace(order.customer, customer_id=customer_id), status=OrderStatus.SHIPPED)
    OrderTable(table).create(order, TimelineEntry(AT, "OrderCaptured", {}))
    invoice = bill(order, order.shipments[0], number=f"INV-2026-{uuid.uuid4().int % 10**6:06d}", issued_at=AT,
                   legal_entity="ACME-DE", with_shipping=True)
    invoice = replace(invoice, due_date=due_date(AT, 30))
    boto3.client("dynamodb").put_item(TableName=table, Item=to_item(invoice_item(invoice)))
    boto3.client("dynamodb").update_item(  # what the capture's credit check added
        TableName=table, Key=to_item({"PK": f"CUSTOMER#marketplace#{customer_id}", "SK": "CREDIT"}),
        UpdateExpression="ADD exposure :g, available_credit :m",
        ExpressionAttributeValues={":g": {"N": str(invoice.gross)}, ":m": {"N": str(-invoice.gross)}})
    if settle:
        _settle(table, customer_id, invoice)
    return order, invoice


def _settle(table: str, customer_id: str, invoice: Invoice) -> None:
    item = OpenItem(channel="marketplace", customer_id=customer_id, invoice_number=invoice.invoice_number,
                    order_id=invoice.order_id, currency="EUR", due_date=invoice.due_date, open_amount=invoice.gross)
    assert InvoiceTable(table).settle(invoice, PaymentStatus.ON_ACCOUNT, None, AT, None, open_item=item) == "settled"


def _stored_note(table: str, invoice: Invoice, gross: Decimal | None = None) -> tuple[CreditNote, TimelineEntry]:
    """A credit note of ``invoice``'s first line (or of ``gross``), stored, not yet refunded, and
    the timeline entry its on-account refund writes."""
    line = invoice.lines[0]
    gross = line.net + line.tax if gross is None else gross
    cn = CreditNote(credit_note_number=f"CN-2026-{uuid.uuid4().int % 10**6:06d}", order_id=invoice.order_id,
                    return_id=f"ret_{invoice.order_id}-{uuid.uuid4().hex[:4]}", receipt_id="R1",
                    corrects=invoice.invoice_number, legal_entity="ACME-DE", currency="EUR", issued_at=LATER,
                    lines=invoice.lines, shipping_net=Decimal(0), shipping_tax=Decimal(0), net=line.net,
                    tax=gross - line.net, gross=gross)
    boto3.client("dynamodb").put_item(TableName=table, Item=to_item(credit_note_item(cn)))
    return cn, TimelineEntry(LATER, "RefundIssued", {"method": "on_account"})


def _credit_note(table: str, customer_id: str, invoice: Invoice, gross: Decimal | None = None) -> CreditNote:
    """A credit note of ``invoice``'s line (or of ``gross``), credited on account."""
    cn, entry = _stored_note(table, invoice, gross)
    assert CreditNoteTable(table).record_refund(cn, RefundStatus.CREDITED, None, LATER, [entry],
                                                credit=("marketplace", customer_id))
    return cn


def _service(table: str, now: str = LATER) -> ReceivablesService:
    return ReceivablesService(store=ReceivableTable(table), orders=OrderTableReader(table),
                              index=DocumentIndexTable(table), clock=lambda: now)


def test_an_account_is_created_and_a_new_limit_keeps_what_is_owed(cloud: LocalCloud, outputs: dict[str, str]) -> None:
    table = outputs["TableName"]
    customer = _customer()
    store = ReceivableTable(table)
    # Given a new account
    created = store.put_account(_account(customer, "1000.00"), AT)
    assert (created.credit_limit, created.exposure, created.available_credit) == (Decimal(1000), 0, Decimal(1000))
    # When the customer owes 300.00 and finance lowers the limit to 500.00
    boto3.client("dynamodb").update_item(
        TableName=table, Key=to_item({"PK": f"CUSTOMER#marketplace#{customer}", "SK": "CREDIT"}),
        UpdateExpression="ADD exposure :e, available_credit :m",
        ExpressionAttributeValues={":e": {"N": "300"}, ":m": {"N": "-300"}})
    changed = store.put_account(_account(customer, "500.00", terms=14), LATER)
    # Then the exposure is kept and the available credit is the new limit less it
    assert (changed.exposure, changed.available_credit, changed.payment_terms_days) == (300, 200, 14)
    assert InvoiceTable(table).payment_terms("marketplace", customer) == 14
    # And its currency cannot change while something is owed, and nothing was written
    with pytest.raises(CurrencyLocked, match="EUR"):
        store.put_account(_account(customer, "500.00", currency="GBP"), LATER)
    assert _raw_account(table, customer)["currency"] == "EUR"
    assert _raw_account(table, customer)["created_at"] == AT


def test_a_settle_on_account_books_the_open_item_and_a_credit_note_takes_its_gross_off(
        cloud: LocalCloud, outputs: dict[str, str]) -> None:
    table = outputs["TableName"]
    customer = _customer()
    ReceivableTable(table).put_account(_account(customer), AT)
    order, invoice = _booked_invoice(table, customer)
    account, items = ReceivableTable(table).receivables("marketplace", customer)
    (item,) = items
    assert (item.invoice_number, item.open_amount, item.due_date) == (invoice.invoice_number, invoice.gross,
                                                                      "2026-12-24")
    stored = OrderTableReader(table).get(order.order_id)
    assert stored is not None and stored.invoices[0].open_amount == invoice.gross
    # When a credit note of its line (not its shipping) is credited on account
    cn, entry = _stored_note(table, invoice)
    notes = CreditNoteTable(table)
    assert notes.record_refund(cn, RefundStatus.CREDITED, None, LATER, [entry], credit=("marketplace", customer))
    assert not notes.record_refund(cn, RefundStatus.CREDITED, None, LATER, [entry], credit=("marketplace", customer))
    # Then the open item and the invoice show its gross less, once, and the credit is back
    _, (item,) = ReceivableTable(table).receivables("marketplace", customer)
    assert item.open_amount == invoice.gross - cn.gross > 0
    stored = OrderTableReader(table).get(order.order_id)
    assert stored is not None and stored.invoices[0].open_amount == invoice.gross - cn.gross
    assert Decimal(str(_raw_account(table, customer)["exposure"])) == invoice.gross - cn.gross
    assert account is not None


def test_payments_are_recorded_once_per_reference_and_never_above_what_is_open(
        cloud: LocalCloud, outputs: dict[str, str]) -> None:
    table = outputs["TableName"]
    customer = _customer()
    ReceivableTable(table).put_account(_account(customer), AT)
    _, invoice = _booked_invoice(table, customer)
    service = _service(table)
    # When a part is paid
    view, created = service.record_payment(invoice.invoice_number, PaymentCommand("BANK-1", "40.00"))
    assert created and view["open_amount"] == str(invoice.gross - 40) and view["received_at"] == LATER
    # Then the same reference again records nothing
    again, created = service.record_payment(invoice.invoice_number, PaymentCommand("BANK-1", "40.00"))
    assert not created and again["recorded_at"] == view["recorded_at"]
    # And more than is open is refused, naming the amount
    with pytest.raises(ValidationFailed) as refused:
        service.record_payment(invoice.invoice_number, PaymentCommand("BANK-2", str(invoice.gross)))
    assert refused.value.errors[0].field == "amount"
    balance = service.balance("marketplace", customer)
    assert balance["open_items"][0]["open_amount"] == str(invoice.gross - 40)
    assert Decimal(balance["available_credit"]) == Decimal(1000) - invoice.gross + 40
    # When the rest is paid, the item leaves the balance and the credit is back to the limit
    service.record_payment(invoice.invoice_number, PaymentCommand("BANK-3", str(invoice.gross - 40)))
    balance = service.balance("marketplace", customer)
    assert balance["open_items"] == [] and balance["available_credit"] == "1000.00"
    # And a repeat of the payment that closed it is answered, not refused
    _, created = service.record_payment(invoice.invoice_number, PaymentCommand("BANK-3", str(invoice.gross - 40)))
    assert not created
    stored = OrderTableReader(table).get(invoice.order_id)
    assert stored is not None and [e.event for e in stored.timeline].count("PaymentReceived") == 2


def _race(table: str, payments: list[ReceivablePayment], seen: Decimal) -> list[str]:
    """Each payment's outcome, in the order given."""
    barrier = threading.Barrier(len(payments), timeout=20)
    outcomes: list[str] = [""] * len(payments)

    def pay(i: int, p: ReceivablePayment) -> None:
        store = ReceivableTable(table, boto3.client("dynamodb"))  # each with its own client, as two functions
        entry = TimelineEntry(LATER, "PaymentReceived", {"payment_reference": p.payment_reference})
        barrier.wait()
        outcomes[i] = store.record_payment(p, seen, entry)[0]

    threads = [threading.Thread(target=pay, args=(i, p)) for i, p in enumerate(payments)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return outcomes


def _payment(invoice: Invoice, customer: str, reference: str, amount: Decimal) -> ReceivablePayment:
    return ReceivablePayment(invoice_number=invoice.invoice_number, order_id=invoice.order_id, channel="marketplace",
                             customer_id=customer, payment_reference=reference, amount=amount, currency="EUR",
                             received_at=LATER, recorded_at=LATER, open_amount=invoice.gross - amount)


def test_the_same_reference_posted_twice_at_once_is_recorded_once(cloud: LocalCloud, outputs: dict[str, str]) -> None:
    table = outputs["TableName"]
    customer = _customer()
    ReceivableTable(table).put_account(_account(customer), AT)
    _, invoice = _booked_invoice(table, customer)
    # Given two finance clerks posting the same bank line at the same moment
    outcomes = _race(table, [_payment(invoice, customer, "BANK-X", Decimal("10.00"))] * 2, invoice.gross)
    # Then one write is recorded and the other refused by its condition
    assert sorted(outcomes) in (["recorded", "replayed"], ["moved", "recorded"]), outcomes
    _, (item,) = ReceivableTable(table).receivables("marketplace", customer)
    assert item.open_amount == invoice.gross - 10
    assert Decimal(str(_raw_account(table, customer)["exposure"])) == invoice.gross - 10


def test_two_payments_racing_for_the_last_open_amount_one_is_refused(cloud: LocalCloud,
                                                                     outputs: dict[str, str]) -> None:
    table = outputs["TableName"]
    customer = _customer()
    ReceivableTable(table).put_account(_account(customer), AT)
    _, invoice = _booked_invoice(table, customer)
    # Given two different payments, each of the whole open amount, landing at once
    outcomes = _race(table, [_payment(invoice, customer, "BANK-A", invoice.gross),
                             _payment(invoice, customer, "BANK-B", invoice.gross)], invoice.gross)
    # Then one is recorded and the other refused: nothing is paid twice
    assert sorted(outcomes) == ["moved", "recorded"], outcomes
    _, (item,) = ReceivableTable(table).receivables("marketplace", customer)
    assert item.open_amount == 0
    assert Decimal(str(_raw_account(table, customer)["available_credit"])) == Decimal(1000)
    # And the refused one, tried again through the use case, is told it is more than is open
    loser = "BANK-A" if outcomes[0] == "moved" else "BANK-B"
    with pytest.raises(ValidationFailed, match="more than"):
        _service(table).record_payment(invoice.invoice_number, PaymentCommand(loser, str(invoice.gross)))


def test_a_credit_note_and_the_settle_commute_and_a_payment_waits_for_the_settle(
        cloud: LocalCloud, outputs: dict[str, str]) -> None:
    table = outputs["TableName"]
    ends: list[tuple[Decimal, Decimal, str | None, Decimal]] = []
    for note_first in (True, False):
        customer = _customer()
        ReceivableTable(table).put_account(_account(customer), AT)
        # Given an on-account invoice issued, and a credit note of its line
        _, invoice = _booked_invoice(table, customer, settle=False)
        if note_first:
            # When the credit note lands before the settle
            cn = _credit_note(table, customer, invoice)
            stored = OrderTableReader(table).get(invoice.order_id)
            assert stored is not None and stored.invoices[0].open_amount == -cn.gross
            # Then a payment is told the invoice is not booked yet (409), not that it is more than is open
            with pytest.raises(Conflict, match="not booked on account yet"):
                _service(table).record_payment(invoice.invoice_number, PaymentCommand("BANK-1", "1.00"))
            _settle(table, customer, invoice)
        else:
            _settle(table, customer, invoice)
            cn = _credit_note(table, customer, invoice)
        # And either way the settle books the gross less what was credited
        _, (item,) = ReceivableTable(table).receivables("marketplace", customer)
        stored = OrderTableReader(table).get(invoice.order_id)
        assert stored is not None
        exposure = Decimal(str(_raw_account(table, customer)["exposure"]))
        ends.append((item.open_amount, stored.invoices[0].open_amount or Decimal(-1), item.due_date, exposure))
        assert item.open_amount == invoice.gross - cn.gross == stored.invoices[0].open_amount == exposure
        # And what is open can be paid
        view, created = _service(table).record_payment(invoice.invoice_number,
                                                       PaymentCommand("BANK-2", str(item.open_amount)))
        assert created and view["open_amount"] == "0.00"
    assert ends[0] == ends[1]


def test_the_currency_stays_while_items_are_open_either_way_even_if_they_add_up_to_nothing(
        cloud: LocalCloud, outputs: dict[str, str]) -> None:
    table = outputs["TableName"]
    customer = _customer()
    store = ReceivableTable(table)
    store.put_account(_account(customer), AT)
    # Given one invoice owed and another paid then credited in full: exposure 0, two items open
    _, owed = _booked_invoice(table, customer)
    _, paid = _booked_invoice(table, customer)
    _service(table).record_payment(paid.invoice_number, PaymentCommand("BANK-1", str(paid.gross)))
    _credit_note(table, customer, paid, owed.gross)
    assert Decimal(str(_raw_account(table, customer)["exposure"])) == 0
    # When finance changes the account's currency, it is refused, naming what is open
    with pytest.raises(CurrencyLocked, match=owed.invoice_number):
        store.put_account(_account(customer, currency="GBP"), LATER)
    assert _raw_account(table, customer)["currency"] == "EUR"
    # And a new limit in the same currency is still taken
    assert store.put_account(_account(customer, "2000.00"), LATER).available_credit == Decimal(2000)


def test_a_currency_change_is_refused_when_the_account_moved_while_its_items_were_read(
        cloud: LocalCloud, outputs: dict[str, str]) -> None:
    table = outputs["TableName"]
    customer = _customer()

    class Interleaved(ReceivableTable):
        def receivables(self, channel: str, customer_id: str) -> tuple[CreditAccount | None, list[OpenItem]]:
            seen = super().receivables(channel, customer_id)
            # a payment and a credit note land right after the read, leaving the exposure at 0
            boto3.client("dynamodb").update_item(
                TableName=table, Key=to_item({"PK": f"CUSTOMER#marketplace#{customer}", "SK": "CREDIT"}),
                UpdateExpression="ADD moves :two", ExpressionAttributeValues={":two": {"N": "2"}})
            return seen

    # Given an account with nothing owed or open
    Interleaved(table).put_account(_account(customer), AT)
    # When its currency changes while the account moves under the read, it is refused (409)
    with pytest.raises(CurrencyLocked, match="moved"):
        Interleaved(table).put_account(_account(customer, currency="GBP"), LATER)
    assert _raw_account(table, customer)["currency"] == "EUR"
    # And with nothing moving it changes
    assert ReceivableTable(table).put_account(_account(customer, currency="GBP"), LATER).currency == "GBP"


def test_an_invoice_and_its_open_item_that_disagree_fail_at_once_not_as_a_retry(
        cloud: LocalCloud, outputs: dict[str, str]) -> None:
    table = outputs["TableName"]
    customer = _customer()
    ReceivableTable(table).put_account(_account(customer), AT)
    _, invoice = _booked_invoice(table, customer)
    # Given an open item that lost what its invoice still shows open (a broken invariant)
    item_key = {"PK": f"CUSTOMER#marketplace#{customer}", "SK": f"OPEN#{invoice.invoice_number}"}
    boto3.client("dynamodb").update_item(
        TableName=table, Key=to_item(item_key),
        UpdateExpression="SET open_amount = :zero", ExpressionAttributeValues={":zero": {"N": "0"}})
    store = ReceivableTable(table)
    writes: list[int] = []
    real = store.db
    counting = type("Counting", (), {"__getattr__": lambda _, name: getattr(real, name),
                                     "transact_write_items": lambda _, **kw: (writes.append(1),
                                                                              real.transact_write_items(**kw))[1]})()
    store._client = counting
    service = ReceivablesService(store=store, orders=OrderTableReader(table), index=DocumentIndexTable(table),
                                 clock=lambda: LATER)
    # When a payment is recorded, it fails once for good, naming both amounts — not 8 reads and a 503
    with pytest.raises(ReceivableInconsistent, match="0 open"):
        service.record_payment(invoice.invoice_number, PaymentCommand("BANK-1", "1.00"))
    assert writes == [1]
    assert ReceivableTable(table).payment("marketplace", customer, invoice.invoice_number, "BANK-1") is None


def test_a_credit_note_after_the_accounts_currency_changed_is_refused_for_finance_not_booked(
        cloud: LocalCloud, outputs: dict[str, str]) -> None:
    table = outputs["TableName"]
    customer = _customer()
    store = ReceivableTable(table)
    store.put_account(_account(customer), AT)
    # Given a EUR invoice paid in full, and the account then moved to GBP (nothing open any more)
    order, invoice = _booked_invoice(table, customer)
    _service(table).record_payment(invoice.invoice_number, PaymentCommand("BANK-1", str(invoice.gross)))
    assert store.put_account(_account(customer, currency="GBP"), LATER).currency == "GBP"
    before = _raw_account(table, customer)
    # When a return's EUR credit note is to be credited on that account
    cn, entry = _stored_note(table, invoice)
    # Then it is refused for good (the refund goes to finance's review list), and nothing moved:
    # no EUR amount on the GBP account, no open item below zero, the note not marked refunded
    with pytest.raises(PaymentDeclined, match="no longer takes EUR"):
        CreditNoteTable(table).record_refund(cn, RefundStatus.CREDITED, None, LATER, [entry],
                                             credit=("marketplace", customer))
    assert _raw_account(table, customer) == before
    _, items = store.receivables("marketplace", customer)
    assert [i.open_amount for i in items] == [Decimal(0)]
    stored = OrderTableReader(table).get(order.order_id)
    assert stored is not None and stored.invoices[0].open_amount == 0
