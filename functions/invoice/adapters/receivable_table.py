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
from functions.invoice.ports import CreditAccount, OpenItem, ReceivablePayment


class CurrencyLocked(Conflict):
    """The account's currency cannot change while its customer owes something (or is owed)."""


def account_from_item(item: dict[str, Any], channel: str, customer_id: str) -> CreditAccount:
    return CreditAccount(channel=channel, customer_id=customer_id, currency=str(item["currency"]),
                         credit_limit=Decimal(str(item["credit_limit"])),
                         exposure=Decimal(str(item.get("exposure", 0))),
                         available_credit=Decimal(str(item.get("available_credit", item["credit_limit"]))),
                         payment_terms_days=int(item.get("payment_terms_days", 30)))


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
        """One conditional UpdateItem, no read: the exposure is kept (0 for a new account) and
        ``available_credit`` set to the new limit less it; the currency may change only while
        nothing is owed (``exposure = 0``)."""
        try:
            answer = self.db.update_item(
                TableName=self.table, Key=to_item(credit_key(account.channel, account.customer_id)),
                UpdateExpression="SET #type = :type, currency = :c, credit_limit = :limit, payment_terms_days = :t, "
                                 "exposure = if_not_exists(exposure, :zero), "
                                 "available_credit = :limit - if_not_exists(exposure, :zero), "
                                 "created_at = if_not_exists(created_at, :at), updated_at = :at",
                ConditionExpression="attribute_not_exists(PK) OR currency = :c OR exposure = :zero",
                ExpressionAttributeNames={"#type": "type"},
                ExpressionAttributeValues=to_values({":type": "credit_account", ":c": account.currency,
                                                     ":limit": account.credit_limit,
                                                     ":t": account.payment_terms_days, ":zero": 0, ":at": at}),
                ReturnValues="ALL_NEW", ReturnValuesOnConditionCheckFailure="ALL_OLD")
        except ClientError as exc:
            if is_retryable(exc):
                raise TransientError(f"writing the credit account of {account.customer_id}: {exc}") from exc
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            old = from_item(exc.response.get("Item") or {})
            currency = str(old.get("currency"))
            owed = fmt(Decimal(str(old.get("exposure", 0))), currency)
            raise CurrencyLocked(f"currency: the account is kept in {currency} while {owed} is owed or on order; "
                                 "it changes only once that is settled") from exc
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
        the credit account's exposure down and available credit up (in the invoice's currency)."""
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
                "ExpressionAttributeValues": to_values({":minus": -amount, ":amount": amount, ":at": p.received_at})}},
            {"Update": {
                "TableName": self.table, "Key": to_item(credit_key(p.channel, p.customer_id)),
                "UpdateExpression": "ADD exposure :minus, available_credit :amount",
                "ConditionExpression": "attribute_exists(PK) AND currency = :c",
                "ExpressionAttributeValues": to_values({":minus": -amount, ":amount": amount, ":c": p.currency})}},
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
        if "TransactionConflict" in refused or "ConditionalCheckFailed" in refused[1:3]:
            return "moved", None
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
