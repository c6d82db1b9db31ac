"""Receivables of on-account customers on in-memory stores: what finance notices — an account's
limit and terms, an invoice due on its issue date plus the terms and booked as an open item,
payments that are recorded once per reference and never above what is open, the balance's
ageing by the use cases' clock, the review list with its reasons."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from functions.core.errors import Conflict, NotFound, ValidationFailed
from functions.core.invoices import PaymentStatus
from functions.core.orders import Order, TimelineEntry
from functions.invoice.ports import CreditAccount, OpenItem, ReceivableInconsistent, ReceivablePayment
from functions.invoice.receivables import (
    BUCKETS,
    AccountTerms,
    PaymentCommand,
    ReceivablesService,
    ageing,
    bucket_of,
    days_overdue,
)
from tests.unit.test_invoicing import AT, order_with, service_for

NOW = "2026-12-01T12:00:00.000Z"
TODAY = date(2026, 12, 1)


class FakeReceivables:
    """The table's conditions in memory: one payment per invoice and reference, the open item
    down only if it is as read, the account's exposure moved with it."""

    def __init__(self, orders: dict[str, Order]) -> None:
        self.orders = orders
        self.accounts: dict[tuple[str, str], CreditAccount] = {}
        self.items: dict[tuple[str, str, str], OpenItem] = {}
        self.payments: dict[tuple[str, str], ReceivablePayment] = {}
        self.entries: list[TimelineEntry] = []
        self.flags: list[dict[str, Any]] = []
        #: outcomes to answer before really recording (a concurrent payment landing first)
        self.moves = 0
        #: payments refused because the invoice and its open item disagreed
        self.broken = 0

    # OrderReader and DocumentIndex
    def get(self, order_id: str) -> Order | None:
        return self.orders.get(order_id)

    def order_of(self, number: str) -> str | None:
        return next((o.order_id for o in self.orders.values() for i in o.invoices if i.invoice_number == number),
                    None)

    def month(self, *args: Any, **kwargs: Any) -> tuple[list[dict[str, Any]], str | None]:
        raise NotImplementedError

    # ReceivableStore
    def put_account(self, account: CreditAccount, at: str) -> CreditAccount:
        key = (account.channel, account.customer_id)
        before = self.accounts.get(key)
        exposure = before.exposure if before else Decimal(0)
        still_open = [i for k, i in self.items.items() if k[:2] == key and i.open_amount != 0]
        if before and before.currency != account.currency and (exposure != 0 or still_open):
            raise Conflict("currency: locked")
        self.accounts[key] = replace(account, exposure=exposure, available_credit=account.credit_limit - exposure)
        return self.accounts[key]

    def receivables(self, channel: str, customer_id: str) -> tuple[CreditAccount | None, list[OpenItem]]:
        return self.accounts.get((channel, customer_id)), [i for k, i in self.items.items()
                                                           if k[:2] == (channel, customer_id)]

    def record_payment(self, payment: ReceivablePayment, seen_open: Decimal, entry: TimelineEntry
                       ) -> tuple[str, ReceivablePayment | None]:
        key = (payment.invoice_number, payment.payment_reference)
        if key in self.payments:
            return "replayed", self.payments[key]
        order = self.orders[payment.order_id]
        invoice = next(i for i in order.invoices if i.invoice_number == payment.invoice_number)
        if self.moves:
            self.moves -= 1
            return "moved", None
        if invoice.open_amount != seen_open:
            return "moved", None
        item = self.items.get((payment.channel, payment.customer_id, payment.invoice_number))
        if item is None or item.open_amount < payment.amount:
            self.broken += 1
            raise ReceivableInconsistent(f"{payment.invoice_number}: the open item disagrees")
        account = self.accounts.get((payment.channel, payment.customer_id))
        if account is None or account.currency != payment.currency:
            return "no_account", None
        self.payments[key] = payment
        self._move(order, payment.invoice_number, -payment.amount)
        self.accounts[(payment.channel, payment.customer_id)] = replace(
            account, exposure=account.exposure - payment.amount,
            available_credit=account.available_credit + payment.amount)
        self.entries.append(entry)
        return "recorded", None

    def payment(self, channel: str, customer_id: str, invoice_number: str, reference: str
                ) -> ReceivablePayment | None:
        return self.payments.get((invoice_number, reference))

    def review(self, *, limit: int, token: str | None) -> tuple[list[dict[str, Any]], str | None]:
        return self.flags[:limit], None

    # what the settle and a credit note do to the same items
    def book(self, order: Order, number: str, due: str) -> None:
        invoice = next(i for i in order.invoices if i.invoice_number == number)
        self.orders[order.order_id] = order
        self.items[(order.channel, order.customer.customer_id, number)] = OpenItem(
            channel=order.channel, customer_id=order.customer.customer_id, invoice_number=number,
            order_id=order.order_id, currency=order.currency, due_date=due, open_amount=Decimal(0))
        self._move(order, number, invoice.gross)
        account = self.accounts[(order.channel, order.customer.customer_id)]
        self.accounts[(order.channel, order.customer.customer_id)] = replace(
            account, exposure=account.exposure + invoice.gross,
            available_credit=account.available_credit - invoice.gross)

    def _move(self, order: Order, number: str, by: Decimal) -> None:
        current = self.orders[order.order_id]
        self.orders[order.order_id] = replace(current, invoices=tuple(
            replace(i, open_amount=(i.open_amount or Decimal(0)) + by) if i.invoice_number == number else i
            for i in current.invoices))
        key = (order.channel, order.customer.customer_id, number)
        self.items[key] = replace(self.items[key], open_amount=self.items[key].open_amount + by)


def on_account_invoice(price: str = "100.00", due: str = "2026-12-24") -> tuple[ReceivablesService, FakeReceivables,
                                                                               Order, str]:
    order = order_with([{"sku": "A", "quantity": 1, "unit_price": price}], [[1]], payment={"method": "on_account"})
    invoicing, invoice_store, _ = service_for(order)
    invoicing.invoice_shipment(order.order_id, order.shipments[0].shipment_id)
    order = invoice_store.orders[order.order_id]
    (invoice,) = order.invoices
    store = FakeReceivables({})
    service = ReceivablesService(store=store, orders=store, index=store, clock=lambda: NOW)
    service.put_account(order.channel, order.customer.customer_id, AccountTerms("EUR", "1000.00", 30))
    store.book(replace(order, invoices=(replace(invoice, open_amount=None),)), invoice.invoice_number, due)
    return service, store, store.orders[order.order_id], invoice.invoice_number


# -- the account -------------------------------------------------------------------------------

@pytest.mark.parametrize(("terms", "field"), [
    (AccountTerms("XYZ", "10.00", 30), "currency"), (AccountTerms("eur", "10.00", 30), "currency"),
    (AccountTerms("EUR", "10.001", 30), "credit_limit"), (AccountTerms("EUR", "-5.00", 30), "credit_limit"),
    (AccountTerms("EUR", "lots", 30), "credit_limit"), (AccountTerms("EUR", "10.00", 366), "payment_terms_days"),
    (AccountTerms("EUR", "10.00", -1), "payment_terms_days")])
def test_an_account_finance_cannot_keep_is_refused_naming_the_field(terms: AccountTerms, field: str) -> None:
    store = FakeReceivables({})
    service = ReceivablesService(store=store, orders=store, index=store, clock=lambda: NOW)
    with pytest.raises(ValidationFailed) as refused:
        service.put_account("marketplace", "B2B-1", terms)
    assert refused.value.errors[0].field == field
    assert store.accounts == {}


@pytest.mark.parametrize(("channel", "customer_id", "field"), [
    ("marketplace", "B2B#1", "customer_id"), ("marketplace", "a/b", "customer_id"),
    ("marketplace", " B2B", "customer_id"), ("marketplace", "", "customer_id"),
    ("marketplace", "B" * 65, "customer_id"), ("market place", "B2B-1", "channel"),
    ("#marketplace", "B2B-1", "channel"), ("", "B2B-1", "channel")])
def test_a_customer_the_table_cannot_key_is_refused_by_the_use_case_naming_the_field(
        channel: str, customer_id: str, field: str) -> None:
    # Given the use case that both the API and `oms customers credit` call
    store = FakeReceivables({})
    service = ReceivablesService(store=store, orders=store, index=store, clock=lambda: NOW)
    # When an account or a balance names a customer id with '#' (or a channel with a space)
    with pytest.raises(ValidationFailed) as refused:
        service.put_account(channel, customer_id, AccountTerms("EUR", "10.00", 30))
    # Then it is refused naming the field, and nothing is written
    assert refused.value.errors[0].field == field and store.accounts == {}
    with pytest.raises(ValidationFailed):
        service.balance(channel, customer_id)


def test_a_new_limit_keeps_what_is_owed() -> None:
    service, _, order, _ = on_account_invoice()
    view = service.put_account(order.channel, order.customer.customer_id, AccountTerms("EUR", "500.00", 14))
    assert (view["credit_limit"], view["exposure"], view["available_credit"], view["payment_terms_days"]) == (
        "500.00", str(order.invoices[0].gross), str(Decimal(500) - order.invoices[0].gross), 14)


# -- due dates ---------------------------------------------------------------------------------

def test_an_on_account_invoice_is_due_on_its_issue_date_plus_the_accounts_terms_and_booked_open() -> None:
    order = order_with([{"sku": "A", "quantity": 1, "unit_price": "10.00"}], [[1]], payment={"method": "on_account"})
    service, store, _ = service_for(order)
    store.terms[(order.channel, order.customer.customer_id)] = 45
    service.invoice_shipment(order.order_id, order.shipments[0].shipment_id)
    (invoice,) = store.orders[order.order_id].invoices
    assert invoice.due_date == (date.fromisoformat(AT[:10]) + timedelta(days=45)).isoformat()
    assert invoice.payment_status == PaymentStatus.ON_ACCOUNT and invoice.open_amount == invoice.gross
    (item,) = store.open_items
    assert (item.due_date, item.open_amount, item.customer_id) == (invoice.due_date, invoice.gross,
                                                                    order.customer.customer_id)
    # a repeat of the task reads nothing more and books nothing twice
    service.invoice_shipment(order.order_id, order.shipments[0].shipment_id)
    assert store.terms_read == 1 and len(store.open_items) == 1


def test_a_card_order_never_reads_an_account() -> None:
    order = order_with([{"sku": "A", "quantity": 1, "unit_price": "10.00"}], [[1]])
    service, store, _ = service_for(order)
    service.invoice_shipment(order.order_id, order.shipments[0].shipment_id)
    (invoice,) = store.orders[order.order_id].invoices
    assert store.terms_read == 0 and store.open_items == [] and invoice.due_date is None
    assert invoice.open_amount is None


# -- payments ----------------------------------------------------------------------------------

def test_a_partial_payment_leaves_the_rest_open_and_gives_its_amount_back() -> None:
    service, store, order, number = on_account_invoice()
    gross = order.invoices[0].gross
    view, created = service.record_payment(number, PaymentCommand("BANK-1", "30.00"))
    assert created and view["open_amount"] == str(gross - 30) and view["received_at"] == NOW
    account = store.accounts[(order.channel, order.customer.customer_id)]
    assert account.available_credit == Decimal(1000) - gross + 30
    (entry,) = store.entries
    assert entry.event == "PaymentReceived" and entry.detail == {
        "invoice_number": number, "amount": "30.00", "currency": "EUR", "payment_reference": "BANK-1",
        "received_at": NOW, "open_amount": str(gross - 30)}


def test_the_same_reference_again_records_nothing_and_another_amount_with_it_is_a_conflict() -> None:
    service, store, _, number = on_account_invoice()
    first, _ = service.record_payment(number, PaymentCommand("BANK-1", "30.00"))
    again, created = service.record_payment(number, PaymentCommand("BANK-1", "30.00"))
    assert not created and again == first and len(store.entries) == 1
    with pytest.raises(Conflict, match="BANK-1"):
        service.record_payment(number, PaymentCommand("BANK-1", "31.00"))


def test_a_repeat_of_the_payment_that_closed_the_item_is_answered_not_refused() -> None:
    service, store, order, number = on_account_invoice()
    gross = str(order.invoices[0].gross)
    service.record_payment(number, PaymentCommand("BANK-1", gross))
    view, created = service.record_payment(number, PaymentCommand("BANK-1", gross))
    assert not created and view["open_amount"] == "0.00" and len(store.entries) == 1


@pytest.mark.parametrize(("amount", "message"), [("0.00", "more than 0.00"), ("1.001", "decimals"),
                                                 ("-1.00", "non-negative"), ("1000.00", "is more than")])
def test_an_amount_it_cannot_take_is_refused_naming_it(amount: str, message: str) -> None:
    service, store, _, number = on_account_invoice()
    with pytest.raises(ValidationFailed, match=message) as refused:
        service.record_payment(number, PaymentCommand("BANK-1", amount))
    assert refused.value.errors[0].field == "amount" and store.payments == {}


def test_a_payment_received_in_the_future_is_refused() -> None:
    service, _, _, number = on_account_invoice()
    with pytest.raises(ValidationFailed) as refused:
        service.record_payment(number, PaymentCommand("BANK-1", "1.00", datetime(2026, 12, 2, tzinfo=UTC)))
    assert refused.value.errors[0].field == "received_at"
    view, _ = service.record_payment(number, PaymentCommand("BANK-2", "1.00", datetime(2026, 11, 30, 9, tzinfo=UTC)))
    assert view["received_at"] == "2026-11-30T09:00:00.000Z"


@pytest.mark.parametrize("received_at", [
    "0001-01-01T00:00:00+01:00",  # no UTC time: before year 1 once converted
    "9999-12-31T23:00:00-05:00",  # no UTC time: after year 9999 once converted
    "0999-05-01T00:00:00+00:00",  # before 2000
    "1999-12-31T23:59:59+00:00",
    "2026-11-22T09:59:59+00:00",  # more than a day before the invoice was issued (AT: 2026-11-23T10:00Z)
])
def test_a_payment_received_at_a_time_it_cannot_have_arrived_is_refused_naming_received_at(received_at: str) -> None:
    # Given an on-account invoice issued on 2026-11-23
    service, store, _, number = on_account_invoice()
    # When finance records a payment received at a time out of range, or before the invoice
    with pytest.raises(ValidationFailed) as refused:
        service.record_payment(number, PaymentCommand("BANK-1", "1.00", datetime.fromisoformat(received_at)))
    # Then it is refused naming received_at, and nothing is recorded
    assert refused.value.errors[0].field == "received_at" and store.payments == {}


def test_a_payment_dated_the_day_before_the_invoice_by_another_calendar_is_taken() -> None:
    service, _, _, number = on_account_invoice()
    issued = datetime.fromisoformat(AT)
    moment = (issued - timedelta(hours=23)).astimezone(timezone(timedelta(hours=-11)))
    view, created = service.record_payment(number, PaymentCommand("BANK-1", "1.00", moment))
    assert created and view["received_at"] == (issued - timedelta(hours=23)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_a_payment_before_the_settle_booked_the_invoice_is_a_conflict_even_after_a_credit_note() -> None:
    # Given an on-account invoice not settled yet that a credit note reached first (-gross open)
    service, store, order, number = on_account_invoice()
    (invoice,) = order.invoices
    store.orders[order.order_id] = replace(order, invoices=(replace(invoice, settled_at=None,
                                                                    open_amount=-invoice.gross),))
    # When finance records a payment against it
    with pytest.raises(Conflict, match="not booked on account yet"):
        service.record_payment(number, PaymentCommand("BANK-1", "1.00"))
    # Then it is told to come back (409), not that the amount is more than is open (422)
    assert store.payments == {}


def test_an_invoice_settled_on_account_before_receivables_has_no_open_item_to_pay() -> None:
    service, store, order, number = on_account_invoice()
    (invoice,) = order.invoices
    store.orders[order.order_id] = replace(order, invoices=(replace(invoice, open_amount=None),))
    with pytest.raises(Conflict, match="before receivables were kept"):
        service.record_payment(number, PaymentCommand("BANK-1", "1.00"))


def test_an_invoice_and_open_item_that_disagree_fail_once_not_as_a_retry() -> None:
    # Given an invoice whose open item has less open than the invoice says (a broken invariant)
    service, store, order, number = on_account_invoice()
    key = (order.channel, order.customer.customer_id, number)
    store.items[key] = replace(store.items[key], open_amount=Decimal(0))
    # When a payment is recorded, it fails for good at the first try (no read again, no 503)
    with pytest.raises(ReceivableInconsistent):
        service.record_payment(number, PaymentCommand("BANK-1", "1.00"))
    assert store.broken == 1 and store.payments == {}


def test_no_payment_against_a_card_invoice_a_credit_note_or_an_unknown_number() -> None:
    service, store, _, _ = on_account_invoice()
    card = order_with([{"sku": "A", "quantity": 1, "unit_price": "10.00"}], [[1]])
    invoicing, invoice_store, _ = service_for(card)
    invoicing.invoice_shipment(card.order_id, card.shipments[0].shipment_id)
    captured = invoice_store.orders[card.order_id]
    store.orders[card.order_id] = replace(captured, invoices=(replace(captured.invoices[0],
                                                                      invoice_number="INV-2026-000777"),))
    with pytest.raises(ValidationFailed, match="not an on-account invoice"):
        service.record_payment("INV-2026-000777", PaymentCommand("B", "1.00"))
    with pytest.raises(ValidationFailed, match="credit note") as refused:
        service.record_payment("CN-2026-000001", PaymentCommand("B", "1.00"))
    assert refused.value.errors[0].field == "invoice_number"
    with pytest.raises(NotFound):
        service.record_payment("INV-2026-999999", PaymentCommand("B", "1.00"))


def test_a_payment_whose_open_amount_moved_meanwhile_is_read_again_and_recorded() -> None:
    service, store, order, number = on_account_invoice()
    store.moves = 2  # another payment (or a credit note) landed first, twice
    view, created = service.record_payment(number, PaymentCommand("BANK-1", "10.00"))
    assert created and view["open_amount"] == str(order.invoices[0].gross - 10)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 5000), min_size=1, max_size=8))
def test_partial_payments_never_take_more_than_is_open_and_give_back_exactly_what_they_took(
        cents: list[int]) -> None:
    service, store, order, number = on_account_invoice("100.00")
    gross = order.invoices[0].gross
    paid = Decimal(0)
    for i, c in enumerate(cents):
        amount = Decimal(c) / 100
        if amount > gross - paid:
            with pytest.raises(ValidationFailed) as refused:
                service.record_payment(number, PaymentCommand(f"BANK-{i}", f"{amount:.2f}"))
            assert refused.value.errors[0].field == "amount"
        else:
            service.record_payment(number, PaymentCommand(f"BANK-{i}", f"{amount:.2f}"))
            paid += amount
    account = store.accounts[(order.channel, order.customer.customer_id)]
    (invoice,) = store.orders[order.order_id].invoices
    assert invoice.open_amount == gross - paid >= 0
    assert account.available_credit == Decimal(1000) - gross + paid == account.credit_limit - account.exposure


# -- the balance and its ageing ------------------------------------------------------------------

def test_days_overdue_count_from_the_day_after_the_due_date() -> None:
    assert days_overdue("2026-12-01", TODAY) == 0 and days_overdue("2026-11-30", TODAY) == 1
    assert days_overdue("2026-12-31", TODAY) == 0 and days_overdue(None, TODAY) == 0
    assert [bucket_of(d) for d in (0, 1, 30, 31, 60, 61, 90, 91)] == [
        "current", "1-30", "1-30", "31-60", "31-60", "61-90", "61-90", "90+"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(-200, 200), st.integers(-50000, 50000).filter(bool)), max_size=12))
def test_the_ageing_buckets_add_up_to_what_is_open_and_only_debts_are_overdue(
        items: list[tuple[int, int]]) -> None:
    open_items = [OpenItem(channel="m", customer_id="c", invoice_number=f"INV-2026-{i:06d}", order_id="o",
                           currency="EUR", due_date=(TODAY - timedelta(days=days)).isoformat(),
                           open_amount=Decimal(cents) / 100) for i, (days, cents) in enumerate(items)]
    buckets = ageing(open_items, TODAY)
    assert list(buckets) == list(BUCKETS)
    assert sum(buckets.values()) == sum((i.open_amount for i in open_items), Decimal(0))
    for (days, cents), item in zip(items, open_items, strict=True):
        if cents > 0 and days > 0:  # a debt past its due date is in the bucket of its days
            assert bucket_of(days_overdue(item.due_date, TODAY)) != "current"
    overdue = sum((v for k, v in buckets.items() if k != "current"), Decimal(0))
    assert overdue == sum((i.open_amount for (d, c), i in zip(items, open_items, strict=True) if c > 0 and d > 0),
                          Decimal(0))


def test_the_balance_lists_what_is_open_with_days_overdue_by_the_clock_and_hides_what_is_paid() -> None:
    service, store, order, number = on_account_invoice(due="2026-11-15")
    gross = order.invoices[0].gross
    service.record_payment(number, PaymentCommand("BANK-1", "10.00"))
    balance = service.balance(order.channel, order.customer.customer_id)
    (item,) = balance["open_items"]
    assert (item["invoice_number"], item["open_amount"], item["days_overdue"]) == (number, str(gross - 10), 16)
    assert balance["ageing"] == {"current": "0.00", "1-30": str(gross - 10), "31-60": "0.00", "61-90": "0.00",
                                 "90+": "0.00"}
    assert balance["available_credit"] == str(Decimal(1000) - gross + 10) and balance["credit_limit"] == "1000.00"
    # 45 days later by the use cases' clock, it is in 61-90
    later = ReceivablesService(store=store, orders=store, index=store, clock=lambda: "2027-01-15T00:00:00.000Z")
    assert later.balance(order.channel, order.customer.customer_id)["ageing"]["61-90"] == str(gross - 10)
    service.record_payment(number, PaymentCommand("BANK-2", str(gross - 10)))
    paid = service.balance(order.channel, order.customer.customer_id)
    assert paid["open_items"] == [] and paid["available_credit"] == "1000.00"


def test_a_credit_owed_to_the_customer_is_listed_negative_and_never_overdue() -> None:
    service, store, order, number = on_account_invoice(due="2026-10-01")
    gross = order.invoices[0].gross
    service.record_payment(number, PaymentCommand("BANK-1", str(gross)))
    store._move(order, number, Decimal("-11.90"))  # a credit note after it was paid
    balance = service.balance(order.channel, order.customer.customer_id)
    (item,) = balance["open_items"]
    assert item["open_amount"] == "-11.90" and item["days_overdue"] == 0
    assert balance["ageing"]["current"] == "-11.90" and balance["open_total"] == "-11.90"


def test_no_balance_without_an_account() -> None:
    store = FakeReceivables({})
    with pytest.raises(NotFound):
        ReceivablesService(store=store, orders=store, index=store, clock=lambda: NOW).balance("m", "nobody")


def test_the_review_list_shows_each_entry_with_its_reason() -> None:
    store = FakeReceivables({})
    store.flags = [{"order_id": "ord_1", "shipment_id": "shp_1-1", "invoice_number": None, "reason": "PaymentDeclined",
                    "error": "card_declined: no", "at": NOW, "GSI1PK": "leaks"}]
    entries, token = ReceivablesService(store=store, orders=store, index=store).review(limit=10, token=None)
    assert entries == [{"order_id": "ord_1", "shipment_id": "shp_1-1", "reason": "PaymentDeclined",
                        "error": "card_declined: no", "at": NOW}] and token is None


# -- through the API -----------------------------------------------------------------------------

def _api(monkeypatch: pytest.MonkeyPatch, service: ReceivablesService) -> Any:
    from functions.invoice.handlers.api import lambda_handler
    from tests.unit.test_http_errors import call

    monkeypatch.setenv("TABLE_NAME", "unused-in-these-tests")
    monkeypatch.setattr("functions.invoice.endpoints.receivables_service", lambda: service)
    return lambda method, path, body=None: call(method, path, body, role="finance", handler=lambda_handler)


@pytest.mark.parametrize("received_at", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-05:00",
                                         "0999-05-01T00:00:00Z"])
def test_the_api_answers_a_received_at_out_of_range_with_a_422_naming_it(
        monkeypatch: pytest.MonkeyPatch, received_at: str) -> None:
    service, store, _, number = on_account_invoice()
    api = _api(monkeypatch, service)
    status, _, body = api("POST", f"/invoices/{number}/payments",
                          {"payment_reference": "BANK-1", "amount": "1.00", "received_at": received_at})
    assert status == 422 and body["errors"][0]["field"] == "received_at", body
    assert store.payments == {}


def test_the_api_answers_a_broken_invariant_with_a_generic_500_and_logs_it_as_an_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from functions.core.handlers import http

    # Given an invoice whose open item disagrees with it
    service, store, order, number = on_account_invoice()
    key = (order.channel, order.customer.customer_id, number)
    store.items[key] = replace(store.items[key], open_amount=Decimal(0))
    api = _api(monkeypatch, service)
    logged: list[BaseException | None] = []  # logger.exception: level ERROR, with the traceback
    monkeypatch.setattr(http.logger, "exception", lambda *a, **k: logged.append(sys.exc_info()[1]))
    # When finance records a payment
    status, headers, body = api("POST", f"/invoices/{number}/payments",
                                {"payment_reference": "BANK-1", "amount": "1.00"})
    # Then the answer is a 500 that tells nothing internal (no retry-after: it is not transient) ...
    assert status == 500 and "Retry-After" not in headers and number not in json.dumps(body), body
    assert store.broken == 1
    # ... and the error is logged, with what disagrees
    (error,) = logged
    assert isinstance(error, ReceivableInconsistent) and number in str(error)


def test_the_api_documents_each_receivables_answer_with_its_model() -> None:
    from functions.openapi_doc import DOCUMENT

    paths = json.loads(DOCUMENT.read_text())["paths"]
    expected = {("/invoices/{invoice_number}", "get", "200"): "DocumentOut",
                ("/invoices", "get", "200"): "DocumentListOut",
                ("/invoices/{invoice_number}/payments", "post", "201"): "PaymentOut",
                ("/invoices/{invoice_number}/payments", "post", "200"): "PaymentOut",
                ("/customers/{channel}/{customer_id}/credit", "put", "200"): "CreditAccountOut",
                ("/customers/{channel}/{customer_id}/balance", "get", "200"): "BalanceOut",
                ("/finance/review", "get", "200"): "ReviewListOut"}
    for (path, method, status), model in expected.items():
        schema = paths[path][method]["responses"][status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": f"#/components/schemas/{model}"}, (path, method, status)


def test_a_payment_for_an_invoice_whose_settle_failed_names_the_review_list() -> None:
    # Given an on-account invoice whose invoicing run failed for good (on finance's review list)
    service, store, order, number = on_account_invoice()
    (invoice,) = order.invoices
    store.orders[order.order_id] = replace(order, invoices=(replace(
        invoice, settled_at=None, open_amount=None, payment_status=PaymentStatus.FAILED),))
    # When finance records a payment against it, it is told where the invoice is, not to retry
    with pytest.raises(Conflict, match="review list"):
        service.record_payment(number, PaymentCommand("BANK-1", "1.00"))
    assert store.payments == {}
