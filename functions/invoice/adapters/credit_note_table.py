"""Credit notes on the single table: issued with their gapless numbers, their refund claimed and
recorded, a credited return moved on to REFUNDED, a failed credit put on finance's list. Each
write is one conditional write or transaction.

Item: ``ORDER#<order>`` / ``CREDITNOTE#<return>#<receipt>#<invoice corrected>`` (keyed by what
it credits, so a receipt's notes exist once whatever numbers they took), ``type: credit_note``,
its view in ``summary``, listed with the invoices for finance through GSI1
``INVOICES#<legal entity>#<yyyy-mm>`` / ``<issued_at>#<number>``. The order header counts the
notes issued (``credit_note_count``, the guard of the order as read) and the amount refunded
or claimed for refund (``refunded_total``, never above what was captured).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from functions.core.adapters.dynamodb import TableAdapter, to_item, to_values, transact
from functions.core.adapters.keys import (
    FINANCE_REVIEW,
    counter_key,
    credit_key,
    credit_note_key,
    document_index_keys,
    flag_key,
    header_key,
    invoice_key,
    invoice_sort_key,
    invoices_of_month,
    review_sort_key,
)
from functions.core.adapters.return_writes import return_update
from functions.core.adapters.timeline import append_entries, with_entries
from functions.core.errors import TransientError
from functions.core.invoices import CreditNote, RefundStatus, credit_note_view
from functions.core.money import fmt
from functions.core.orders import Order, TimelineEntry
from functions.core.returns import Return
from functions.invoice.adapters.invoice_table import open_item_update
from functions.invoice.ports import OpenItem, PaymentDeclined

#: The series of the credit notes' counter (``keys.counter_key``).
SERIES = "CN"


def credit_note_item(cn: CreditNote) -> dict[str, Any]:
    c = cn.currency
    return {**credit_note_key(cn.order_id, cn.return_id, cn.receipt_id, cn.corrects), "type": "credit_note",
            "order_id": cn.order_id, "return_id": cn.return_id, "receipt_id": cn.receipt_id,
            "lines": [{"line_id": ln.line_id, "sku": ln.sku, "quantity": ln.quantity,
                       "unit_price": fmt(ln.unit_price, c), "tax_class": ln.tax_class,
                       "net": fmt(ln.net, c), "tax": fmt(ln.tax, c)} for ln in cn.lines],
            "shipping_net": fmt(cn.shipping_net, c), "shipping_tax": fmt(cn.shipping_tax, c),
            "GSI1PK": invoices_of_month(cn.legal_entity, cn.issued_at[:7]),
            "GSI1SK": invoice_sort_key(cn.issued_at, cn.credit_note_number),
            **document_index_keys(cn.credit_note_number), "summary": credit_note_view(cn)}


class CreditNoteTable(TableAdapter):
    def last_number(self, legal_entity: str, year: int) -> int:
        item = self.db.get_item(TableName=self.table, Key=to_item(counter_key(legal_entity, year, SERIES)),
                                ConsistentRead=True).get("Item")
        return int(item["last_number"]["N"]) if item else 0

    def issue(self, order: Order, notes: list[CreditNote], first: int, entries: list[TimelineEntry]) -> str:
        """Write a receipt's ``notes`` as numbers ``first``… of their legal entity and year, in one
        transaction with the counter and the order's count of notes. ``issued``, or why not:
        ``already`` (this receipt's notes exist), ``order_changed`` (another note of the order was
        issued since it was read), ``number_taken``."""
        last = first + len(notes) - 1
        le, year = notes[0].legal_entity, notes[0].year
        seen = len(order.credit_notes)
        counter = {"Update": {
            "TableName": self.table, "Key": to_item(counter_key(le, year, SERIES)),
            "UpdateExpression": "SET last_number = :n, legal_entity = :le, #y = :y, #t = :type, series = :series",
            "ConditionExpression": "attribute_not_exists(PK)" if first == 1 else "last_number = :prev",
            "ExpressionAttributeNames": {"#y": "year", "#t": "type"},
            "ExpressionAttributeValues": to_values({":n": last, ":le": le, ":y": year, ":type": "counter",
                                                  ":series": SERIES, **({":prev": first - 1} if first > 1 else {})})}}
        header = {"Update": {
            "TableName": self.table, "Key": to_item(header_key(order.order_id)),
            "UpdateExpression": "SET credit_note_count = :next",
            "ConditionExpression": ("attribute_exists(PK) AND (attribute_not_exists(credit_note_count) "
                                    "OR credit_note_count = :seen)") if seen == 0 else "credit_note_count = :seen",
            "ExpressionAttributeValues": to_values({":next": seen + len(notes), ":seen": seen})}}
        puts = [{"Put": {"TableName": self.table, "Item": to_item(with_entries(credit_note_item(cn), [entry])),
                         "ConditionExpression": "attribute_not_exists(PK)"}} for cn, entry in zip(notes, entries,
                                                                                                strict=True)]
        try:
            refused = transact(self, [counter, header, *puts], f"crediting {notes[0].receipt_id}",
                               conflicts_refuse=True)
        except TransientError:
            return "number_taken"
        if not refused:
            return "issued"
        if "ConditionalCheckFailed" in refused[2:]:
            return "already"
        if refused[1] == "ConditionalCheckFailed":
            return "order_changed"
        return "number_taken"

    def claim_refund(self, cn: CreditNote, at: str, limit: Decimal) -> str:
        """Count ``cn``'s gross against what the order may still refund, once: ``claimed``,
        ``already`` (claimed before), or ``exceeds`` (the order's refunds, claimed or done, are
        above ``limit`` = what was captured less this note's gross)."""
        actions: list[dict[str, Any]] = [
            {"Update": {
                "TableName": self.table, "Key": to_item(credit_note_key(cn.order_id, cn.return_id, cn.receipt_id,
                                                                        cn.corrects)),
                "UpdateExpression": "SET refund_claimed_at = :at",
                "ConditionExpression": "attribute_exists(PK) AND attribute_not_exists(refund_claimed_at)",
                "ExpressionAttributeValues": to_values({":at": at})}},
            {"Update": {
                "TableName": self.table, "Key": to_item(header_key(cn.order_id)),
                "UpdateExpression": "ADD refunded_total :g",
                "ConditionExpression": "attribute_not_exists(refunded_total) OR refunded_total <= :limit",
                "ExpressionAttributeValues": to_values({":g": cn.gross, ":limit": limit})}},
        ]
        refused = transact(self, actions, f"claiming the refund of {cn.credit_note_number}")
        if not refused:
            return "claimed"
        return "already" if refused[0] == "ConditionalCheckFailed" else "exceeds"

    def record_refund(self, cn: CreditNote, status: RefundStatus, reference: str | None, at: str,
                      entries: list[TimelineEntry], *, credit: tuple[str, str] | None = None) -> bool:
        """Record ``cn``'s refund once (``status``, the provider's reference) with its entries;
        on account (``credit``: channel, customer) the gross goes back to the customer's credit
        and comes off the corrected invoice's open item (and its ``open_amount``) in the same
        transaction — below zero if the invoice was paid already: a credit owed to the customer.
        False if it was recorded before."""
        actions: list[dict[str, Any]] = [{"Update": append_entries({
            "TableName": self.table, "Key": to_item(credit_note_key(cn.order_id, cn.return_id, cn.receipt_id,
                                                                    cn.corrects)),
            "UpdateExpression": "SET refunded_at = :at, #sum.payment_status = :st, #sum.payment_reference = :ref",
            "ConditionExpression": "attribute_exists(PK) AND attribute_not_exists(refunded_at)",
            "ExpressionAttributeNames": {"#sum": "summary"},
            "ExpressionAttributeValues": to_values({":at": at, ":st": status.value, ":ref": reference})}, entries)}]
        if credit is not None:
            actions.append({"Update": {
                "TableName": self.table, "Key": to_item(credit_key(*credit)),
                # moves: a currency change read before this note is refused (receivable_table)
                "UpdateExpression": "ADD exposure :minus, available_credit :g, moves :one",
                # an account now kept in another currency cannot take this note's money back
                "ConditionExpression": "attribute_exists(PK) AND currency = :c",
                "ExpressionAttributeValues": to_values({":g": cn.gross, ":minus": -cn.gross, ":one": 1,
                                                        ":c": cn.currency})}})
            channel, customer_id = credit
            actions.append({"Update": open_item_update(self.table, OpenItem(
                channel=channel, customer_id=customer_id, invoice_number=cn.corrects, order_id=cn.order_id,
                currency=cn.currency, due_date=None, open_amount=-cn.gross))})
            actions.append({"Update": {
                "TableName": self.table, "Key": to_item(invoice_key(cn.order_id, cn.corrects)),
                "UpdateExpression": "SET #sum.open_amount = if_not_exists(#sum.open_amount, :zero) - :g",
                "ConditionExpression": "attribute_exists(PK)",
                "ExpressionAttributeNames": {"#sum": "summary"},
                "ExpressionAttributeValues": to_values({":g": cn.gross, ":zero": 0})}})
        refused = transact(self, actions, f"recording the refund of {cn.credit_note_number}")
        if refused and credit is not None and refused[0] != "ConditionalCheckFailed" \
                and refused[1:2] == ["ConditionalCheckFailed"]:
            # not recorded before, and the account refuses: gone, or changed to another currency
            # since the order (finance's review list: the note is credited by hand)
            raise PaymentDeclined("credit_account_currency", f"{cn.credit_note_number}: the customer's credit "
                                                             f"account no longer takes {cn.currency}")
        return not refused

    def settle_return(self, before: Return, after: Return, entry: TimelineEntry) -> bool:
        """The return moved on (REFUNDED) if still at ``before``'s version; False if it moved."""
        return not transact(self, [return_update(self.table, before, after, entry)],
                            f"settling {after.return_id}", conflicts_refuse=True)

    def flag(self, order_id: str, ref: str, detail: dict[str, Any], reason: str, error: str,
             entry: TimelineEntry, failed: CreditNote | None, *, release: bool = False) -> bool:
        """Put a receipt's failed credit (``ref`` = ``<return>#<receipt>``) on finance's review
        list, once while open; its unrefunded note marked FAILED in the same write. ``release``
        (the provider refused the refund): the note's claim is withdrawn and its gross taken off
        the order's ``refunded_total``, in the same write."""
        actions: list[dict[str, Any]] = [{"Update": append_entries({
            "TableName": self.table, "Key": to_item(flag_key(order_id, ref)),
            "UpdateExpression": "SET #type = :type, order_id = :o, return_id = :r, receipt_id = :x, reason = :why, "
                                "#error = :e, #at = :at, GSI1PK = :pk, GSI1SK = :sk, summary = :sum REMOVE resolved_at",
            "ConditionExpression": "attribute_not_exists(PK) OR attribute_exists(resolved_at)",
            "ExpressionAttributeNames": {"#type": "type", "#error": "error", "#at": "at"},
            "ExpressionAttributeValues": to_values({
                ":type": "finance_flag", ":o": order_id, ":r": detail["return_id"], ":x": detail["receipt_id"],
                ":why": reason, ":e": error, ":at": entry.at, ":pk": FINANCE_REVIEW,
                ":sk": review_sort_key(entry.at, order_id),
                ":sum": {"order_id": order_id, **detail, "reason": reason, "error": error, "at": entry.at}})},
            [entry])}]
        if failed is not None:
            actions.append({"Update": {
                "TableName": self.table, "Key": to_item(credit_note_key(failed.order_id, failed.return_id,
                                                                        failed.receipt_id, failed.corrects)),
                "UpdateExpression": "SET #sum.payment_status = :failed" + (" REMOVE refund_claimed_at" if release
                                                                           else ""),
                "ConditionExpression": "attribute_exists(PK) AND attribute_not_exists(refunded_at)"
                                       + (" AND attribute_exists(refund_claimed_at)" if release else ""),
                "ExpressionAttributeNames": {"#sum": "summary"},
                "ExpressionAttributeValues": to_values({":failed": RefundStatus.FAILED.value})}})
            if release:
                actions.append({"Update": {
                    "TableName": self.table, "Key": to_item(header_key(order_id)),
                    "UpdateExpression": "ADD refunded_total :minus", "ConditionExpression": "attribute_exists(PK)",
                    "ExpressionAttributeValues": to_values({":minus": -failed.gross})}})
        codes = transact(self, actions, f"flagging {ref}")
        if codes and failed is not None and codes[0] != "ConditionalCheckFailed":
            return self.flag(order_id, ref, detail, reason, error, entry, None)  # refunded meanwhile
        return not codes
