"""Receivables of on-account customers (API.md "Finance"): their credit account (currency,
limit, payment terms), the payments finance records against their invoices, their balance with
its ageing, and finance's review list. No AWS here.

Every on-account invoice is an open item from its settle on (``invoicing.py``: its gross, due on
its issue date plus the account's terms); a payment takes its amount off the item and gives it
back to the customer's available credit, a credit note its gross (``refunding.py``). A payment
is recorded once per invoice and payment reference, however often or concurrently it is posted,
and never for more than is open.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from functions.core.errors import Conflict, NotFound, TransientError, ValidationFailed
from functions.core.events import instant, stamp, utc_now
from functions.core.invoices import Invoice, PaymentStatus
from functions.core.money import CURRENCIES, AmountError, fmt, parse_amount
from functions.core.orders import TimelineEntry
from functions.core.ports import OrderReader

from .ports import CreditAccount, DocumentIndex, OpenItem, ReceivablePayment, ReceivableStore

#: The longest payment terms an account may have (API: 0–365 days).
MAX_TERMS_DAYS = 365
#: How often a payment is tried again when the open amount moved under it (another payment or a
#: credit note of the same invoice at the same moment) before the caller is asked to retry.
PAYMENT_ATTEMPTS = 8
#: The ageing buckets (API.md), by days past the due date.
BUCKETS = ("current", "1-30", "31-60", "61-90", "90+")
#: A channel and a customer id as the table keys them (``CUSTOMER#<channel>#<customer_id>``): the
#: API's path parameters and ``oms customers`` are held to the same patterns (no ``#``, no ``/``).
CHANNEL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
CUSTOMER_ID_PATTERN = r"^[^#/\s][^#/]*$"
MAX_ID_LENGTH = 64
#: No payment is recorded as received before this (a typo, not a bank line) ...
EARLIEST_RECEIVED = datetime(2000, 1, 1, tzinfo=UTC)
#: ... nor more than this before its invoice was issued (a transfer dated the day before, by
#: another time zone's calendar, is still taken).
ISSUE_TOLERANCE = timedelta(days=1)


@dataclass(frozen=True)
class AccountTerms:
    """What finance sets on an account (``PUT /customers/{channel}/{customer_id}/credit``)."""

    currency: str
    credit_limit: str
    payment_terms_days: int


@dataclass(frozen=True)
class PaymentCommand:
    payment_reference: str
    amount: str
    #: when the money arrived (ISO 8601 with an offset); None: now
    received_at: datetime | None = None


def days_overdue(due_date: str | None, today: date) -> int:
    """Whole days past ``due_date`` (0 on the due date and before it, and for an item with none)."""
    if due_date is None:
        return 0
    return max(0, (today - date.fromisoformat(due_date)).days)


def bucket_of(days: int) -> str:
    if days <= 0:
        return "current"
    if days <= 30:
        return "1-30"
    if days <= 60:
        return "31-60"
    if days <= 90:
        return "61-90"
    return "90+"


def ageing(items: Iterable[OpenItem], today: date) -> dict[str, Decimal]:
    """What is open per bucket. A credit owed to the customer (a negative item: a credit note
    after the invoice was paid) is not overdue: it counts as current. The buckets add up to the
    customer's open balance."""
    buckets = dict.fromkeys(BUCKETS, Decimal(0))
    for item in items:
        days = days_overdue(item.due_date, today) if item.open_amount > 0 else 0
        buckets[bucket_of(days)] += item.open_amount
    return buckets


def account_view(account: CreditAccount) -> dict[str, Any]:
    c = account.currency
    return {"channel": account.channel, "customer_id": account.customer_id, "currency": c,
            "credit_limit": fmt(account.credit_limit, c), "payment_terms_days": account.payment_terms_days,
            "available_credit": fmt(account.available_credit, c), "exposure": fmt(account.exposure, c)}


def payment_view(p: ReceivablePayment, open_amount: Decimal) -> dict[str, Any]:
    c = p.currency
    return {"invoice_number": p.invoice_number, "order_id": p.order_id, "payment_reference": p.payment_reference,
            "amount": fmt(p.amount, c), "currency": c, "received_at": p.received_at, "recorded_at": p.recorded_at,
            "open_amount": fmt(open_amount, c)}


def received_instant(moment: datetime | None, now: str) -> datetime:
    """When a payment arrived, in UTC (``None``: now; a time without an offset is taken as
    UTC). 422 naming ``received_at`` for one that has no UTC time (out of the calendar's range
    once converted), is before 2000 or is after ``now``."""
    if moment is None:
        return instant(now)
    try:
        aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
        utc = aware.astimezone(UTC)
    except (OverflowError, ValueError) as exc:
        raise ValidationFailed("received_at", f"{moment.isoformat()} has no time in UTC this OMS can "
                                              "keep") from exc
    if utc < EARLIEST_RECEIVED:
        raise ValidationFailed("received_at", f"{moment.isoformat()} is before {EARLIEST_RECEIVED.year}")
    if utc > instant(now):
        raise ValidationFailed("received_at", f"{stamp(utc)} is in the future (now is {now})")
    return utc


def check_customer(channel: str, customer_id: str) -> None:
    """422 naming the field for a channel or customer id the table cannot key (API.md: the same
    patterns as the API's path parameters), whichever way it came (the API, ``oms customers``)."""
    for field, value, pattern in (("channel", channel, CHANNEL_PATTERN),
                                  ("customer_id", customer_id, CUSTOMER_ID_PATTERN)):
        if not 1 <= len(value) <= MAX_ID_LENGTH:
            raise ValidationFailed(field, f"must be 1 to {MAX_ID_LENGTH} characters")
        if re.fullmatch(pattern, value) is None:
            raise ValidationFailed(field, f"{value!r} does not match {pattern} (no '#', '/' or leading space)")


@dataclass
class ReceivablesService:
    store: ReceivableStore
    orders: OrderReader
    index: DocumentIndex
    clock: Callable[[], str] = utc_now

    # -- the account ---------------------------------------------------------------------------
    def put_account(self, channel: str, customer_id: str, terms: AccountTerms) -> dict[str, Any]:
        """Create the account or change it; its exposure is kept, so available credit is the new
        limit less what the customer owes or has on order. 422 naming the field for a currency
        this OMS does not keep, a limit that is no amount of it, terms outside 0–365 days; 409
        for a currency change while something is owed."""
        check_customer(channel, customer_id)
        if terms.currency not in CURRENCIES:
            raise ValidationFailed("currency", f"{terms.currency!r} is not one of {', '.join(sorted(CURRENCIES))}")
        try:
            limit = parse_amount(terms.credit_limit, terms.currency)
        except AmountError as exc:
            raise ValidationFailed("credit_limit", str(exc)) from exc
        if not 0 <= terms.payment_terms_days <= MAX_TERMS_DAYS:
            raise ValidationFailed("payment_terms_days", f"must be from 0 to {MAX_TERMS_DAYS} days")
        account = CreditAccount(channel=channel, customer_id=customer_id, currency=terms.currency,
                                credit_limit=limit, exposure=Decimal(0), available_credit=limit,
                                payment_terms_days=terms.payment_terms_days)
        return account_view(self.store.put_account(account, self.clock()))

    # -- payments ------------------------------------------------------------------------------
    def record_payment(self, number: str, command: PaymentCommand) -> tuple[dict[str, Any], bool]:
        """(the payment with what is left open on the invoice, whether this call recorded it).
        The same reference again answers the payment recorded first (False)."""
        if number.startswith("CN-"):
            raise ValidationFailed("invoice_number", f"{number} is a credit note: payments are recorded against "
                                                     "the invoice it corrects")
        now = self.clock()
        received = received_instant(command.received_at, now)
        received_at = stamp(received) if command.received_at is not None else now
        for _ in range(PAYMENT_ATTEMPTS):
            invoice, channel, customer_id = self._open_invoice(number)
            if received < instant(invoice.issued_at) - ISSUE_TOLERANCE:
                raise ValidationFailed("received_at", f"{received_at} is before {number} was issued "
                                                      f"({invoice.issued_at})")
            try:
                amount = parse_amount(command.amount, invoice.currency)
            except AmountError as exc:
                raise ValidationFailed("amount", str(exc)) from exc
            if amount <= 0:
                raise ValidationFailed("amount", f"must be more than {fmt(Decimal(0), invoice.currency)}")
            open_before = invoice.open_amount if invoice.open_amount is not None else Decimal(0)
            if amount > open_before:
                # a repeat of a payment that closed the item is answered, not refused
                before = self.store.payment(channel, customer_id, number, command.payment_reference)
                if before is not None:
                    return self._replayed(before, amount, open_before), False
                raise ValidationFailed("amount", f"{fmt(amount, invoice.currency)} is more than the "
                                                 f"{fmt(open_before, invoice.currency)} open on {number}")
            after = open_before - amount
            payment = ReceivablePayment(invoice_number=number, order_id=invoice.order_id, channel=channel,
                                        customer_id=customer_id, payment_reference=command.payment_reference,
                                        amount=amount, currency=invoice.currency, received_at=received_at,
                                        recorded_at=now, open_amount=after)
            c = invoice.currency
            entry = TimelineEntry(at=now, event="PaymentReceived", detail={
                "invoice_number": number, "amount": fmt(amount, c), "currency": c,
                "payment_reference": command.payment_reference, "received_at": received_at,
                "open_amount": fmt(after, c)})
            outcome, before = self.store.record_payment(payment, open_before, entry)
            if outcome == "recorded":
                return payment_view(payment, after), True
            if outcome == "replayed" and before is not None:
                return self._replayed(before, amount, open_before), False
            if outcome == "no_account":
                raise Conflict(f"the customer {customer_id} of {channel} has no credit account in {c}: "
                               "the payment cannot be given back to its credit")
            # moved: another payment or a credit note of the invoice landed first; read again
        raise TransientError(f"the open amount of {number} kept moving while recording a payment")

    @staticmethod
    def _replayed(before: ReceivablePayment, amount: Decimal, open_now: Decimal) -> dict[str, Any]:
        if before.amount != amount:
            raise Conflict(f"payment_reference {before.payment_reference} was recorded for {before.invoice_number} "
                           f"with amount {fmt(before.amount, before.currency)}; a different payment needs its "
                           "own reference")
        return payment_view(before, open_now)

    def _open_invoice(self, number: str) -> tuple[Invoice, str, str]:
        """The on-account invoice ``number`` as booked, its channel and customer."""
        order_id = self.index.order_of(number)
        order = self.orders.get(order_id) if order_id else None
        invoice = next((i for i in order.invoices if i.invoice_number == number), None) if order else None
        if order is None or invoice is None:
            raise NotFound(f"invoice {number} not found")
        if order.payment.method != "on_account":
            raise ValidationFailed("invoice_number", f"{number} is not an on-account invoice (paid by "
                                                     f"{order.payment.method}): there is nothing to record")
        if invoice.payment_status == PaymentStatus.FAILED:
            raise Conflict(f"{number} could not be booked on account: it is on finance's review list "
                           "(GET /finance/review); once its invoicing run is resumed, payments can be recorded")
        if invoice.settled_at is None:
            # a credit note may have reached it first (its open amount is then below zero): what
            # is open is known once the settle has booked the gross
            raise Conflict(f"{number} is not booked on account yet: retry in a moment")
        if invoice.open_amount is None:
            raise Conflict(f"{number} was settled on account before receivables were kept: it has no open item, "
                           "and its payments are recorded outside the OMS (docs/OPERATIONS.md)")
        return invoice, order.channel, order.customer.customer_id

    # -- the balance ---------------------------------------------------------------------------
    def balance(self, channel: str, customer_id: str) -> dict[str, Any]:
        """The account's limit and available credit, the items still open (oldest due first) with
        their days overdue, and the ageing, by the use cases' clock."""
        check_customer(channel, customer_id)
        account, items = self.store.receivables(channel, customer_id)
        if account is None:
            raise NotFound(f"customer {customer_id} of {channel} has no credit account")
        today = date.fromisoformat(self.clock()[:10])
        c = account.currency
        listed = sorted((i for i in items if i.open_amount != 0),
                        key=lambda i: (i.due_date or "", i.invoice_number))
        return {**account_view(account),
                "open_total": fmt(sum((i.open_amount for i in listed), Decimal(0)), c),
                "open_items": [{"invoice_number": i.invoice_number, "order_id": i.order_id, "due_date": i.due_date,
                                "open_amount": fmt(i.open_amount, c),
                                "days_overdue": days_overdue(i.due_date, today) if i.open_amount > 0 else 0}
                               for i in listed],
                "ageing": {k: fmt(v, c) for k, v in ageing(listed, today).items()}}

    # -- finance's review list -----------------------------------------------------------------
    def review(self, *, limit: int, token: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """What is on finance's review list, oldest first, each with why."""
        entries, next_token = self.store.review(limit=limit, token=token)
        fields = ("order_id", "shipment_id", "invoice_number", "return_id", "receipt_id", "credit_note_number",
                  "reason", "error", "at")
        return [{k: e.get(k) for k in fields if e.get(k) is not None} for e in entries], next_token
