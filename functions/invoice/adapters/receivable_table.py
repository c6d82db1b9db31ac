"""On-account receivables on the single table: the customer's partition ``CUSTOMER#<ch>#<id>``
holds its credit account (``CREDIT``), an open item per on-account invoice (``OPEN#<number>``)
and the payments received (``PAYMENT#<number>#<reference>``); finance's review list is GSI1
``FINANCE#REVIEW``. Every write is one conditional write or transaction.

Amounts in the account and the open items are numbers (conditions compare them, updates add
them); the payments keep theirs as decimal strings, as the API shows them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from functions.core.adapters.dynamodb import (
    TableAdapter,
    from_item,
    is_retryable,
    to_item,
    to_value,
    to_values,
    transact,
)
from functions.core.adapters.keys import (
    FINANCE_REVIEW,
    credit_key,
    customer_payment_key,
    customer_pk,
    invoice_key,
    is_credit_account,
    is_open_item,
    open_item_key,
    receivables_range,
)
from functions.core.adapters.paging import decode_token, encode_token
from functions.core.adapters.timeline import append_entries
from functions.core.errors import Conflict, TransientError
from functions.core.money import fmt
from functions.core.orders import TimelineEntry
from functions.invoice.ports import CreditAccount, OpenItem, ReceivableInconsistent, ReceivablePayment


class CurrencyLocked(Conflict):
    """The account's currency cannot change while its customer owes something (or is owed)."""


def account_from_item(item: dict[str, Any], channel: str, customer_id: str) -> CreditAccount:
    return CreditAccount(channel=channel, customer_id=customer_id, currency=str(item["currency"]),
                         credit_limit=Decimal(str(item["credit_limit"])),
                         exposure=Decimal(str(item.get("exposure", 0))),
                         available_credit=Decimal(str(item.get("available_credit", item["credit_limit"]))),
                         payment_terms_days=int(item.get("payment_terms_days", 30)),
                         moves=int(item["moves"]) if item.get("moves") is not None else None)


def open_item_from_item(item: dict[str, Any], channel: str, customer_id: str) -> OpenItem:
    return OpenItem(channel=channel, customer_id=customer_id, invoice_number=str(item["invoice_number"]),
                    order_id=str(item.get("order_id", "")), currency=str(item.get("currency", "")),
                    due_date=item.get("due_date"), open_amount=Decimal(str(item.get("open_amount", 0))))


def payment_item(p: ReceivablePayment) -> dict[str, Any]:
    c = p.currency
    return {**customer_payment_key(p.channel, p.customer_id, p.invoice_number, p.payment_reference),
            "type": "customer_payment", "invoice_number": p.invoice_number, "order_id": p.order_id,
            "payment_reference": p.payment_reference, "amount": fmt(p.amount, c), "currency": c,
            "received_at": p.received_at, "recorded_at": p.recorded_at, "open_amount": fmt(p.open_amount, c)}


def payment_from_item(item: dict[str, Any], channel: str, customer_id: str) -> ReceivablePayment:
    return ReceivablePayment(invoice_number=str(item["invoice_number"]), order_id=str(item["order_id"]),
                             channel=channel, customer_id=customer_id,
                             payment_reference=str(item["payment_reference"]), amount=Decimal(str(item["amount"])),
                             currency=str(item["currency"]), received_at=str(item["received_at"]),
                             recorded_at=str(item["recorded_at"]), open_amount=Decimal(str(item["open_amount"])))


class ReceivableTable(TableAdapter):
    """The ``ReceivableStore`` port over the table."""

    def put_account(self, account: CreditAccount, at: str) -> CreditAccount:
        """One conditional UpdateItem, no read, while the currency stays (the usual change: a limit,
        the terms): the exposure is kept (0 for a new account) and ``available_credit`` set to the
        new limit less it. A new currency: the account and its open items are read, and it changes
        only if nothing is owed or on order (``exposure = 0``) and every open item is closed — the
        exposure alone can be 0 with an item open either way (owed on one invoice, a credit owed
        on another) — in a write conditional on the account not having moved since (``moves``:
        each payment and credit note adds one; a capture or a cancel's release moves the exposure,
        and a settle follows a capture, so none of them can open an item unseen)."""
        written = self._write_account(account, at, "attribute_not_exists(PK) OR currency = :c", {})
        if written is not None:
            return written
        current, items = self.receivables(account.channel, account.customer_id)
        if current is None:  # deleted since: nothing is owed on an account that is not there
            raise CurrencyLocked("currency: the account changed while it was written; try again")
        still_open = [i for i in items if i.open_amount != 0]
        if current.currency == account.currency:  # changed back meanwhile: the plain upsert
            written = self._write_account(account, at, "currency = :c", {})
            if written is None:
                raise CurrencyLocked("currency: the account changed while it was written; try again")
            return written
        if current.exposure != 0 or still_open:
            c = current.currency
            raise CurrencyLocked(
                f"currency: the account is kept in {c} while {fmt(current.exposure, c)} is owed or on order and "
                f"{len(still_open)} invoice(s) are open ({', '.join(i.invoice_number for i in still_open[:5])}"
                f"{'…' if len(still_open) > 5 else ''}); it changes only once that is settled")
        moved = "attribute_not_exists(moves)" if current.moves is None else "moves = :moves"
        written = self._write_account(account, at, f"currency = :old AND exposure = :zero AND {moved}",
                                      {":old": current.currency,
                                       **({":moves": current.moves} if current.moves is not None else {})})
        if written is None:
            raise CurrencyLocked("currency: the account moved while its open items were read (a payment, a "
                                 "credit note or an order); try again")
        return written

    def _write_account(self, account: CreditAccount, at: str, condition: str, values: dict[str, Any]
                       ) -> CreditAccount | None:
        """The account's upsert under ``condition``: the account as written, or None when the
        condition refused it."""
        try:
            answer = self.db.update_item(
                TableName=self.table, Key=to_item(credit_key(account.channel, account.customer_id)),
                UpdateExpression="SET #type = :type, currency = :c, credit_limit = :limit, payment_terms_days = :t, "
                                 "exposure = if_not_exists(exposure, :zero), "
                                 "available_credit = :limit - if_not_exists(exposure, :zero), "
                                 "created_at = if_not_exists(created_at, :at), updated_at = :at",
                ConditionExpression=condition,
                ExpressionAttributeNames={"#type": "type"},
                ExpressionAttributeValues=to_values({":type": "credit_account", ":c": account.currency,
                                                     ":limit": account.credit_limit,
                                                     ":t": account.payment_terms_days, ":zero": 0, ":at": at,
                                                     **values}),
                ReturnValues="ALL_NEW")
        except ClientError as exc:
            if is_retryable(exc):
                raise TransientError(f"writing the credit account of {account.customer_id}: {exc}") from exc
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return None
        return account_from_item(from_item(answer["Attributes"]), account.channel, account.customer_id)

    def receivables(self, channel: str, customer_id: str) -> tuple[CreditAccount | None, list[OpenItem]]:
        low, high = receivables_range()
        kwargs: dict[str, Any] = {
            "TableName": self.table, "ConsistentRead": True,
            "KeyConditionExpression": "PK = :pk AND SK BETWEEN :low AND :high",
            "ExpressionAttributeValues": to_values({":pk": customer_pk(channel, customer_id), ":low": low,
                                                    ":high": high})}
        items: list[dict[str, Any]] = []
        while True:
            page = self.db.query(**kwargs)
            items.extend(from_item(i) for i in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        account = next((account_from_item(i, channel, customer_id) for i in items if is_credit_account(i)), None)
        return account, [open_item_from_item(i, channel, customer_id) for i in items if is_open_item(i)]

    def record_payment(self, payment: ReceivablePayment, seen_open: Decimal, entry: TimelineEntry
                       ) -> tuple[str, ReceivablePayment | None]:
        """One TransactWriteItems: the payment's put (``attribute_not_exists``: once per invoice
        and reference; a refusal returns the payment recorded before), the invoice's
        ``open_amount`` down if it is still ``seen_open`` (with the PaymentReceived entry on its
        timeline: the stream publishes it), the open item down if at least the amount is open,
        the credit account's exposure down and available credit up (in the invoice's currency),
        counted in its ``moves``. The invoice as read but its open item refusing is a broken
        invariant: ``ReceivableInconsistent``, never "moved" (reading again would not help)."""
        p, amount = payment, payment.amount
        actions: list[dict[str, Any]] = [
            {"Put": {"TableName": self.table, "Item": to_item(payment_item(p)),
                     "ConditionExpression": "attribute_not_exists(PK)",
                     "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
            {"Update": append_entries({
                "TableName": self.table, "Key": to_item(invoice_key(p.order_id, p.invoice_number)),
                "UpdateExpression": "SET #sum.open_amount = #sum.open_amount - :amount",
                "ConditionExpression": "#sum.open_amount = :seen",
                "ExpressionAttributeNames": {"#sum": "summary"},
                "ExpressionAttributeValues": to_values({":amount": amount, ":seen": seen_open})}, [entry])},
            {"Update": {
                "TableName": self.table, "Key": to_item(open_item_key(p.channel, p.customer_id, p.invoice_number)),
                "UpdateExpression": "ADD open_amount :minus SET last_paid_at = :at",
                "ConditionExpression": "open_amount >= :amount",
                "ExpressionAttributeValues": to_values({":minus": -amount, ":amount": amount, ":at": p.received_at}),
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
            {"Update": {
                "TableName": self.table, "Key": to_item(credit_key(p.channel, p.customer_id)),
                "UpdateExpression": "ADD exposure :minus, available_credit :amount, moves :one",
                "ConditionExpression": "attribute_exists(PK) AND currency = :c",
                "ExpressionAttributeValues": to_values({":minus": -amount, ":amount": amount, ":c": p.currency,
                                                        ":one": 1})}},
        ]
        # a conflict is a concurrent payment of the invoice: read again, as for a moved amount
        refused = transact(self, actions, f"recording payment {p.payment_reference} of {p.invoice_number}",
                           conflicts_refuse=True)
        if not refused:
            return "recorded", None
        if refused[0] == "ConditionalCheckFailed":
            old = refused.old_item(0)
            before = payment_from_item(old, p.channel, p.customer_id) if old else \
                self.payment(p.channel, p.customer_id, p.invoice_number, p.payment_reference)
            return "replayed", before
        if "TransactionConflict" in refused or refused[1] == "ConditionalCheckFailed":
            return "moved", None
        if refused[2] == "ConditionalCheckFailed":
            # the invoice is as read, yet its open item cannot take the amount: the two disagree,
            # and no number of reads makes them agree
            old = refused.old_item(2)
            found = f"{old['open_amount']} open" if old.get("open_amount") is not None else "no open item"
            raise ReceivableInconsistent(
                f"{p.invoice_number}: the invoice has {fmt(seen_open, p.currency)} open but its customer's open item "
                f"({p.channel}/{p.customer_id}) has {found}: payment {p.payment_reference} of "
                f"{fmt(amount, p.currency)} not recorded")
        if refused[3] == "ConditionalCheckFailed":
            return "no_account", None
        raise RuntimeError(f"recording payment {p.payment_reference} was refused: {list(refused)}")

    def payment(self, channel: str, customer_id: str, invoice_number: str, reference: str
                ) -> ReceivablePayment | None:
        item = self.db.get_item(TableName=self.table, ConsistentRead=True,
                                Key=to_item(customer_payment_key(channel, customer_id, invoice_number, reference)),
                                ).get("Item")
        return payment_from_item(from_item(item), channel, customer_id) if item else None

    def review(self, *, limit: int, token: str | None) -> tuple[list[dict[str, Any]], str | None]:
        kwargs: dict[str, Any] = {"TableName": self.table, "IndexName": "GSI1", "Limit": limit,
                                  "KeyConditionExpression": "GSI1PK = :p",
                                  "ExpressionAttributeValues": {":p": to_value(FINANCE_REVIEW)}}
        start = decode_token(token, index_pk="GSI1PK", partition=FINANCE_REVIEW)
        if start:
            kwargs["ExclusiveStartKey"] = start
        page = self.db.query(**kwargs)
        return ([dict(from_item(i).get("summary") or {}) for i in page.get("Items", [])],
                encode_token(page.get("LastEvaluatedKey")))
