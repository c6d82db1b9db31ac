"""Invoice writes on the single table. Each is one conditional TransactWriteItems, so an
invoice number is taken if and only if its invoice is written (gapless), an invoice is issued
once per shipment, and a capture is recorded once per invoice."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from functions.core.adapters.dynamodb import TableAdapter, from_item, is_retryable, to_item, to_values, transact
from functions.core.adapters.keys import (
    CLOSE_OPEN_ORDER,
    FINANCE_REVIEW,
    counter_key,
    credit_key,
    document_index_keys,
    flag_key,
    header_key,
    invoice_key,
    invoice_sort_key,
    invoices_of_month,
    open_item_key,
    review_sort_key,
)
from functions.core.adapters.timeline import append_entries, with_entries
from functions.core.adapters.transitions import into
from functions.core.errors import TransientError
from functions.core.invoices import Invoice, PaymentStatus, invoice_view
from functions.core.money import fmt
from functions.core.orders import Order, OrderStatus, TimelineEntry
from functions.invoice.ports import Completion, OpenItem


def invoice_item(inv: Invoice) -> dict[str, Any]:
    """An invoice ``ORDER#<order>`` / ``INVOICE#<number>`` (immutable once issued, apart from its
    payment fields), listed for finance through GSI1 ``INVOICES#<legal entity>#<yyyy-mm>`` /
    ``<issued_at>#<number>``; the view only once, in ``summary`` (projected to GSI1). Read back
    by the shared reader (``core/adapters/order_reader.invoice_from_item``)."""
    c = inv.currency
    return {**invoice_key(inv.order_id, inv.invoice_number), "type": "invoice", "order_id": inv.order_id,
            "lines": [{"line_id": ln.line_id, "sku": ln.sku, "quantity": ln.quantity,
                       "unit_price": fmt(ln.unit_price, c), "tax_class": ln.tax_class,
                       "net": fmt(ln.net, c), "tax": fmt(ln.tax, c)} for ln in inv.lines],
            "shipping_net": fmt(inv.shipping_net, c), "shipping_tax": fmt(inv.shipping_tax, c),
            "settled_at": inv.settled_at,
            "GSI1PK": invoices_of_month(inv.legal_entity, inv.issued_at[:7]),
            "GSI1SK": invoice_sort_key(inv.issued_at, inv.invoice_number),
            **document_index_keys(inv.invoice_number),
            # open_amount is the settle's to write, as a number (core/invoices.invoice_view)
            "summary": {k: v for k, v in invoice_view(inv).items() if k != "open_amount"}}


def open_item_update(table: str, item: OpenItem) -> dict[str, Any]:
    """The ``Update`` that books ``item.open_amount`` on the customer's open item of the invoice
    (``CUSTOMER#<ch>#<id>`` / ``OPEN#<number>``), creating it if new. ``ADD``: the booking and
    the credit notes' reductions commute, whichever comes first. Never conditional: the write
    it is part of happens once (the settle's ``settled_at``, the note's ``refunded_at``)."""
    sets = ["#type = :type", "invoice_number = :n", "order_id = :o", "currency = :c"]
    values: dict[str, Any] = {":type": "open_item", ":n": item.invoice_number, ":o": item.order_id,
                              ":c": item.currency, ":amount": item.open_amount}
    if item.due_date is not None:
        sets.append("due_date = :due")
        values[":due"] = item.due_date
    return {"TableName": table, "Key": to_item(open_item_key(item.channel, item.customer_id, item.invoice_number)),
            "UpdateExpression": f"SET {', '.join(sets)} ADD open_amount :amount",
            "ExpressionAttributeNames": {"#type": "type"}, "ExpressionAttributeValues": to_values(values)}


class InvoiceTable(TableAdapter):
    """Writes invoices, their payment, the completion, finance's flags and a cancelled order's
    payment release (orders are read through the shared reader)."""

    def last_number(self, legal_entity: str, year: int) -> int:
        item = self.db.get_item(TableName=self.table, Key=to_item(counter_key(legal_entity, year)),
                                ConsistentRead=True).get("Item")
        return int(item["last_number"]["N"]) if item else 0

    def issue(self, order: Order, invoice: Invoice, sequence: int, entry: TimelineEntry) -> str:
        """Write ``invoice`` as number ``sequence`` of its legal entity and year.

        Returns ``issued``, or why not: ``number_taken`` (another invoice took the number),
        ``order_changed`` (another invoice of the order, or of this shipment, was issued since
        it was read: shipping may have been billed)."""
        seen = len(order.invoices)
        counter = {"Update": {
            "TableName": self.table, "Key": to_item(counter_key(invoice.legal_entity, invoice.year)),
            "UpdateExpression": "SET last_number = :n, legal_entity = :le, #y = :y, #t = :type",
            "ConditionExpression": "attribute_not_exists(PK)" if sequence == 1 else "last_number = :prev",
            "ExpressionAttributeNames": {"#y": "year", "#t": "type"},
            "ExpressionAttributeValues": to_values({":n": sequence, ":le": invoice.legal_entity, ":y": invoice.year,
                                                  ":type": "counter", **({":prev": sequence - 1}
                                                                         if sequence > 1 else {})})}}
        actions: list[dict[str, Any]] = [
            counter,
            {"Put": {"TableName": self.table, "Item": to_item(with_entries(invoice_item(invoice), [entry])),
                     "ConditionExpression": "attribute_not_exists(PK)"}},
            # The count of invoices issued, not the version: a node dispatching the next shipment
            # meanwhile must not be refused for it. It also makes the invoice once per shipment:
            # the use case saw no invoice for it at this count, so a concurrent run for the same
            # shipment moves the count and this write is refused (order_changed: read again).
            {"Update": {"TableName": self.table, "Key": to_item(header_key(order.order_id)),
                        "UpdateExpression": "SET invoice_count = :next",
                        "ConditionExpression": ("attribute_not_exists(invoice_count) OR invoice_count = :seen"
                                                if seen == 0 else "invoice_count = :seen"),
                        "ExpressionAttributeValues": to_values({":next": seen + 1, ":seen": seen})}},
        ]
        # a conflict is a concurrent transaction on the counter or the header, a throttle a hot
        # counter: read again (the use case's jittered attempts, then the workflow's retries)
        try:
            refused = transact(self, actions, f"issuing {invoice.invoice_number}", conflicts_refuse=True)
        except TransientError:
            return "number_taken"
        if not refused:
            return "issued"
        if len(refused) == len(actions) and refused[2] == "ConditionalCheckFailed":
            return "order_changed"
        return "number_taken"

    def payment_terms(self, channel: str, customer_id: str) -> int | None:
        item = self.db.get_item(TableName=self.table, Key=to_item(credit_key(channel, customer_id)),
                                ProjectionExpression="payment_terms_days", ConsistentRead=True).get("Item")
        terms = from_item(item).get("payment_terms_days") if item else None
        return int(terms) if terms is not None else None

    def settle(self, invoice: Invoice, status: PaymentStatus, reference: str | None, at: str,
               entry: TimelineEntry | None, completion: Completion | None = None, *,
               open_item: OpenItem | None = None) -> str:
        """Record the invoice's payment once and count it on the order header: ``settled``, or
        ``already`` if recorded before. With ``completion`` the same transaction also moves the
        order SHIPPED -> COMPLETED if the header still counts ``settled_before`` settled invoices
        (``completed``); if it does not, the invoice is settled alone. With ``open_item`` (on
        account) the same transaction books the customer's open item and the invoice's
        ``open_amount``: once, with the settle."""
        # the invoice's entry first: a timeline tie (same instant) keeps PaymentCaptured before
        # OrderCompleted (entry ids are made in this order)
        sets = "SET settled_at = :at, #sum.payment_status = :st, #sum.payment_reference = :ref"
        values: dict[str, Any] = {":st": status.value, ":ref": reference, ":at": at}
        if open_item is not None:
            # a number, moved in place by payments and credit notes (added: a credit note that
            # reached it first already took its gross off)
            sets += ", #sum.open_amount = if_not_exists(#sum.open_amount, :zero) + :gross"
            values |= {":zero": 0, ":gross": open_item.open_amount}
        invoice_update = {"Update": append_entries({
                "TableName": self.table, "Key": to_item(invoice_key(invoice.order_id, invoice.invoice_number)),
                "UpdateExpression": sets,
                "ConditionExpression": "attribute_not_exists(settled_at)",
                "ExpressionAttributeNames": {"#sum": "summary"},
                "ExpressionAttributeValues": to_values(values)},
                [entry] if entry is not None else [])}
        header: dict[str, Any] = {
            "TableName": self.table, "Key": to_item(header_key(invoice.order_id)),
            "UpdateExpression": "ADD settled_invoices :one", "ExpressionAttributeValues": to_values({":one": 1})}
        if completion is not None:
            before = completion.settled_before
            allowed, allowed_values = into(OrderStatus.COMPLETED)
            header = append_entries(header | {
                "UpdateExpression": "SET #s = :done, #v = #v + :one, updated_at = :at ADD settled_invoices :one "
                                    f"REMOVE {CLOSE_OPEN_ORDER}",  # off the open orders' index
                "ConditionExpression": f"{allowed} AND " + (
                    "attribute_not_exists(settled_invoices)" if before == 0 else "settled_invoices = :before"),
                "ExpressionAttributeNames": {"#s": "status", "#v": "version"},
                "ExpressionAttributeValues": to_values({
                    ":one": 1, ":done": OrderStatus.COMPLETED.value, **allowed_values,
                    ":at": completion.entry.at, **({":before": before} if before else {})})}, [completion.entry])
        actions: list[dict[str, Any]] = [
            invoice_update,
            {"Update": header},
        ]
        if open_item is not None:
            actions.append({"Update": open_item_update(self.table, open_item)})
        codes = transact(self, actions, f"settling {invoice.invoice_number}")
        if not codes:
            return "settled" if completion is None else "completed"
        if completion is not None and codes[0] != "ConditionalCheckFailed":
            # the order moved: settle alone
            return self.settle(invoice, status, reference, at, entry, open_item=open_item)
        return "already"

    def complete(self, order: Order, invoices: int, entry: TimelineEntry) -> bool:
        """SHIPPED -> COMPLETED once ``invoices`` invoices are settled. False if not (yet)."""
        allowed, allowed_values = into(OrderStatus.COMPLETED)
        update = append_entries({
            "TableName": self.table, "Key": to_item(header_key(order.order_id)),
            "UpdateExpression": f"SET #s = :done, #v = #v + :one, updated_at = :at REMOVE {CLOSE_OPEN_ORDER}",
            "ConditionExpression": f"{allowed} AND settled_invoices = :n",
            "ExpressionAttributeNames": {"#s": "status", "#v": "version"},
            "ExpressionAttributeValues": to_values({
                ":done": OrderStatus.COMPLETED.value, **allowed_values,
                ":one": 1, ":at": entry.at, ":n": invoices})}, [entry])
        try:  # one item: a plain conditional update (half the write units of a transaction)
            self.db.update_item(**update)
        except ClientError as exc:
            if is_retryable(exc):
                raise TransientError(f"completing {order.order_id}: {exc}") from exc
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def flag(self, order_id: str, shipment_id: str, invoice_number: str | None, reason: str, error: str,
             entry: TimelineEntry) -> bool:
        """Put the order on finance's review list for this shipment (its unsettled invoice FAILED),
        once while it is open: a flag resolved by a successful re-run may be raised again, and
        keeps its history (the flag's timeline)."""
        actions: list[dict[str, Any]] = [
            {"Update": append_entries({
                "TableName": self.table, "Key": to_item(flag_key(order_id, shipment_id)),
                "UpdateExpression": "SET #type = :type, order_id = :o, shipment_id = :s, reason = :r, #error = :e, "
                                    "#at = :at, GSI1PK = :pk, GSI1SK = :sk, summary = :sum REMOVE resolved_at",
                "ConditionExpression": "attribute_not_exists(PK) OR attribute_exists(resolved_at)",
                "ExpressionAttributeNames": {"#type": "type", "#error": "error", "#at": "at"},
                "ExpressionAttributeValues": to_values({
                    ":type": "finance_flag", ":o": order_id, ":s": shipment_id, ":r": reason, ":e": error,
                    ":at": entry.at, ":pk": FINANCE_REVIEW, ":sk": review_sort_key(entry.at, order_id),
                    # what finance's review list shows (GET /finance/review; GSI1 projects only this)
                    ":sum": {"order_id": order_id, "shipment_id": shipment_id, "invoice_number": invoice_number,
                             "reason": reason, "error": error, "at": entry.at}})},
                [entry])},
            # the shipments under review, as a set: flags and resolutions commute, nothing to read
            {"Update": {"TableName": self.table, "Key": to_item(header_key(order_id)),
                        "UpdateExpression": "ADD finance_review :shipment",
                        "ConditionExpression": "attribute_exists(PK)",  # never a header for no order
                        "ExpressionAttributeValues": to_values({":shipment": {shipment_id}})}},
        ]
        invoice_index = len(actions)
        if invoice_number:
            failed = PaymentStatus.FAILED.value
            actions.append({"Update": {
                "TableName": self.table, "Key": to_item(invoice_key(order_id, invoice_number)),
                "UpdateExpression": "SET #sum.payment_status = :failed",
                "ConditionExpression": "attribute_exists(PK) AND attribute_not_exists(settled_at)",
                "ExpressionAttributeNames": {"#sum": "summary"},
                "ExpressionAttributeValues": to_values({":failed": failed})}})
        codes = transact(self, actions, f"flagging {order_id}")
        if not codes:
            return True
        if invoice_number and codes[invoice_index:invoice_index + 1] == ["ConditionalCheckFailed"] \
                and "ConditionalCheckFailed" not in codes[:invoice_index]:
            # the invoice was settled meanwhile: flag the order, leave the invoice alone
            return self.flag(order_id, shipment_id, None, reason, error, entry)
        return False  # flagged before

    def resolve_flag(self, order_id: str, shipment_id: str, entry: TimelineEntry) -> bool:
        """Take the shipment off finance's review list (its run succeeded), once: the flag keeps
        its history and leaves the index, and the shipment leaves the header's ``finance_review``
        set (the attribute disappears with its last member)."""
        actions: list[dict[str, Any]] = [
            {"Update": append_entries({
                "TableName": self.table, "Key": to_item(flag_key(order_id, shipment_id)),
                "UpdateExpression": "SET resolved_at = :at REMOVE GSI1PK, GSI1SK",
                "ConditionExpression": "attribute_exists(PK) AND attribute_not_exists(resolved_at)",
                "ExpressionAttributeValues": to_values({":at": entry.at})}, [entry])},
        ]
        actions.append({"Update": {
            "TableName": self.table, "Key": to_item(header_key(order_id)),
            "UpdateExpression": "DELETE finance_review :shipment", "ConditionExpression": "attribute_exists(PK)",
            "ExpressionAttributeValues": to_values({":shipment": {shipment_id}})}})
        return self._once(actions, f"resolving the review of {shipment_id}")

    def release_payment(self, order: Order, entry: TimelineEntry, *, credit: bool) -> bool:
        """Record, once, that a cancelled order's payment hold was released (and give the
        customer's on-account credit back when ``credit``)."""
        actions: list[dict[str, Any]] = [
            {"Update": append_entries({
                "TableName": self.table, "Key": to_item(header_key(order.order_id)),
                "UpdateExpression": "SET payment_released_at = :at",
                "ConditionExpression": "#s = :cancelled AND attribute_not_exists(payment_released_at)",
                "ExpressionAttributeNames": {"#s": "status"},
                "ExpressionAttributeValues": to_values({":at": entry.at,
                                                      ":cancelled": OrderStatus.CANCELLED.value})}, [entry])},
        ]
        if credit:
            actions.append({"Update": {
                "TableName": self.table,
                "Key": to_item(credit_key(order.channel, order.customer.customer_id)),
                "UpdateExpression": "ADD exposure :minus, available_credit :total",
                "ConditionExpression": "attribute_exists(PK)",
                "ExpressionAttributeValues": to_values({":total": order.totals.total, ":minus": -order.totals.total})}})
        return self._once(actions, f"releasing the payment of {order.order_id}")

    def _once(self, actions: list[dict[str, Any]], what: str) -> bool:
        """Written now (True), or refused by a condition: done before (False)."""
        return not transact(self, actions, what)
