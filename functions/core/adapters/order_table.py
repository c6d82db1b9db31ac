"""The order's items in the single table, and the conditional writes that change them.

Item shapes (see docs/ARCHITECTURE.md, "Single table"):
- header ``ORDER#<id>`` / ``ORDER``: what changes — ``status`` + ``version`` for conditional
  writes, the allocation, counters — kept under 1 KB for an order of a few lines (its size
  grows with the allocation: one entry per line and node), since every state change rewrites it
  (DynamoDB bills a write by the whole item's size, twice in a transaction). Its ``summary``
  map (the only attribute the GSIs project) holds only what never changes, so a status
  change writes no index entry; listings read the current status from the headers.
- details ``ORDER#<id>`` / ``DETAILS``: what the order was captured with (customer, lines,
  addresses, payment, totals), written once in the capture transaction.
- the timeline is not an item of its own: each fact's entry is appended to the item the fact
  concerns, in the same write (``timeline.py``).
- channel ref ``CHANNEL#<ch>#REF#<channel_order_id>`` / ``REF``: uniqueness per channel.
- idempotency record ``IDEMPOTENCY#<principal>#<sha256 of the key>`` / ``IDEMPOTENCY``: the
  request's key, its body's hash and the order it created, in the capture transaction (TTL).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import asdict
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from functions.core.errors import BadRequest, Conflict, TransientError
from functions.core.orders import (
    Address,
    AlreadyCaptured,
    CaptureInProgress,
    CreditLimitExceeded,
    Customer,
    DuplicateChannelOrder,
    IdempotencyClaim,
    Order,
    OrderLine,
    OrderStatus,
    Payment,
    Shipment,
    ShipmentLine,
    ShipmentStatus,
    TimelineEntry,
    Totals,
)

from .dynamodb import TableAdapter, cancellation_codes, from_item, is_retryable, to_item, to_value, to_values
from .invoice_items import invoice_from_item
from .keys import order_pk
from .shipments import move_shipment_action
from .stock import allocations_from, per_stock_record, release_action
from .timeline import append_entries, entries_of, with_entries

ORDER_SK = "ORDER"
DETAILS_SK = "DETAILS"


def ref_pk(channel: str, channel_order_id: str) -> str:
    return f"CHANNEL#{channel}#REF#{channel_order_id}"


def idempotency_pk(principal: str, key: str) -> str:
    return f"IDEMPOTENCY#{principal}#{hashlib.sha256(key.encode()).hexdigest()}"


def credit_pk(channel: str, customer_id: str) -> str:
    return f"CUSTOMER#{channel}#{customer_id}"


def _money(value: Decimal) -> str:
    return str(value)


def summary_of(order: Order) -> dict[str, Any]:
    return {"order_id": order.order_id, "channel": order.channel, "channel_order_id": order.channel_order_id,
            "customer_id": order.customer.customer_id, "currency": order.currency,
            "total": _money(order.totals.total), "created_at": order.created_at}


def header_item(order: Order) -> dict[str, Any]:
    """The small mutable item (see the module docstring)."""
    sort_key = f"{order.created_at}#{order.order_id}"
    return {
        "PK": order_pk(order.order_id), "SK": ORDER_SK, "type": "order",
        "order_id": order.order_id, "status": order.status.value, "version": order.version,
        "updated_at": order.updated_at, "cancel_reason": order.cancel_reason,
        "summary": summary_of(order),
        "GSI1PK": f"CHANNEL#{order.channel}", "GSI1SK": sort_key,
        "GSI2PK": f"CUSTOMER#{order.channel}#{order.customer.customer_id}", "GSI2SK": sort_key,
        "GSI3PK": f"ORDERS#{order.created_at[:7]}", "GSI3SK": sort_key,
    }


def details_item(order: Order) -> dict[str, Any]:
    """What the order was captured with; never updated."""
    return {
        "PK": order_pk(order.order_id), "SK": DETAILS_SK, "type": "order_details",
        "order_id": order.order_id, "channel": order.channel, "channel_order_id": order.channel_order_id,
        "currency": order.currency,
        "customer": {k: v for k, v in asdict(order.customer).items() if v is not None},
        "lines": [{"line_id": ln.line_id, "sku": ln.sku, "quantity": ln.quantity,
                   "unit_price": _money(ln.unit_price), "tax_class": ln.tax_class,
                   "net": _money(ln.net), "tax": _money(ln.tax)} for ln in order.lines],
        "shipping_address": {k: v for k, v in asdict(order.shipping_address).items() if v is not None},
        "shipping_method": order.shipping_method,
        "payment": {k: (_money(v) if isinstance(v, Decimal) else v)
                    for k, v in asdict(order.payment).items() if v is not None},
        "totals": {k: _money(v) for k, v in asdict(order.totals).items()},
        "created_at": order.created_at,
    }


def shipment_from_item(stored: dict[str, Any]) -> Shipment:
    item = {**stored.get("summary", {}), **stored}
    return Shipment(shipment_id=item["shipment_id"], order_id=item["order_id"], node_id=item["node_id"],
                    status=ShipmentStatus(item["status"]),
                    lines=tuple(ShipmentLine(ln["line_id"], ln["sku"], int(ln["quantity"])) for ln in item["lines"]),
                    requested_at=item["requested_at"], carrier=item.get("carrier"),
                    tracking_number=item.get("tracking_number"), dispatched_at=item.get("dispatched_at"))


def order_from_items(header: dict[str, Any], details: dict[str, Any], timeline: Sequence[TimelineEntry] = (),
                     shipments: Sequence[dict[str, Any]] = (), invoices: Sequence[dict[str, Any]] = (),
                     flags: Sequence[dict[str, Any]] = ()) -> Order:
    h = {**details, **header}
    pay = h["payment"]
    return Order(
        order_id=h["order_id"], channel=h["channel"], channel_order_id=h.get("channel_order_id"),
        status=OrderStatus(h["status"]), version=int(h["version"]), currency=h["currency"],
        customer=Customer(**h["customer"]),
        lines=tuple(OrderLine(line_id=ln["line_id"], sku=ln["sku"], quantity=int(ln["quantity"]),
                              unit_price=Decimal(ln["unit_price"]), tax_class=ln["tax_class"],
                              net=Decimal(ln["net"]), tax=Decimal(ln["tax"])) for ln in h["lines"]),
        shipping_address=Address(**h["shipping_address"]), shipping_method=h["shipping_method"],
        payment=Payment(method=pay["method"], authorization_id=pay.get("authorization_id"),
                        amount=Decimal(pay["amount"]) if pay.get("amount") is not None else None),
        totals=Totals(**{k: Decimal(v) for k, v in h["totals"].items()}),
        created_at=h["created_at"], updated_at=h["updated_at"], cancel_reason=h.get("cancel_reason"),
        timeline=tuple(timeline),
        allocations=tuple(allocations_from(h.get("allocation"))),
        shipments=tuple(shipment_from_item(s) for s in shipments),
        invoices=tuple(invoice_from_item(i) for i in invoices),
        finance_reviews=tuple({k: f.get(k) for k in ("shipment_id", "reason", "error", "at")}
                              for f in flags if not f.get("resolved_at")),  # open reviews only
        payment_released_at=h.get("payment_released_at"),
    )


def encode_token(last_key: dict[str, Any] | None) -> str | None:
    if not last_key:
        return None
    return base64.urlsafe_b64encode(json.dumps(from_item(last_key)).encode()).decode().rstrip("=")


def decode_token(token: str | None, *, index_pk: str, partition: str) -> dict[str, Any] | None:
    if not token:
        return None
    try:
        raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, binascii.Error) as exc:
        raise BadRequest("next_token is not a token this API issued") from exc
    if not isinstance(raw, dict) or raw.get(index_pk) != partition:
        raise BadRequest("next_token does not belong to this listing")
    return to_item(raw)


class OrderTable(TableAdapter):
    """Order persistence. Every state change is a conditional write; multi-item changes are
    one TransactWriteItems, so nothing is ever half-written."""

    # -- writes ---------------------------------------------------------------------------
    def create(self, order: Order, first_event: TimelineEntry, *, credit_limit_check: bool = False,
               idempotency: IdempotencyClaim | None = None) -> None:
        """The order's items in one transaction, with its idempotency record when given: a key
        used before raises ``AlreadyCaptured`` (with the order it made), a key being written by
        a concurrent request ``CaptureInProgress``, a reused channel order id
        ``DuplicateChannelOrder``, too little credit ``CreditLimitExceeded``."""
        actions: list[dict[str, Any]] = []
        if idempotency is not None:
            actions.append({"Put": {
                "TableName": self.table,
                "Item": to_item({"PK": idempotency_pk(idempotency.principal, idempotency.key), "SK": "IDEMPOTENCY",
                                 "type": "idempotency", "order_id": order.order_id,
                                 "request_hash": idempotency.request_hash, "expires_at": idempotency.expires_at}),
                # an expired record (not yet removed by TTL) no longer holds the key
                "ConditionExpression": "attribute_not_exists(PK) OR expires_at < :now",
                "ExpressionAttributeValues": to_values({":now": int(time.time())}),
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}})
        actions += [
            {"Put": {"TableName": self.table, "Item": to_item(header_item(order)),
                     "ConditionExpression": "attribute_not_exists(PK)"}},
            {"Put": {"TableName": self.table, "Item": to_item(with_entries(details_item(order), [first_event]))}},
        ]
        ref_index = credit_index = -1
        if order.channel_order_id:
            ref_index = len(actions)
            actions.append({"Put": {
                "TableName": self.table,
                "Item": to_item({"PK": ref_pk(order.channel, order.channel_order_id), "SK": "REF",
                                 "type": "channel_ref", "order_id": order.order_id}),
                "ConditionExpression": "attribute_not_exists(PK)"}})
        if credit_limit_check:
            credit_index = len(actions)
            # Conditions cannot add, so the account keeps ``available_credit`` (limit - exposure)
            # next to ``exposure`` and both move in the same update.
            actions.append({"Update": {
                "TableName": self.table,
                "Key": to_item({"PK": credit_pk(order.channel, order.customer.customer_id), "SK": "CREDIT"}),
                "UpdateExpression": "ADD exposure :total, available_credit :minus",
                "ConditionExpression": "attribute_exists(PK) AND available_credit >= :total",
                "ExpressionAttributeValues": {":total": to_value(order.totals.total),
                                              ":minus": to_value(-order.totals.total)}}})
        try:
            self.db.transact_write_items(TransactItems=actions)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            codes = cancellation_codes(exc)
            if idempotency is not None and codes and codes[0] == "ConditionalCheckFailed":
                old = from_item(exc.response["CancellationReasons"][0].get("Item") or {})
                raise AlreadyCaptured(str(old.get("order_id", "")),
                                      same_request=old.get("request_hash") == idempotency.request_hash) from exc
            if "TransactionConflict" in codes:  # a concurrent request writes the same key or reference
                raise CaptureInProgress() from exc
            if ref_index >= 0 and codes[ref_index] == "ConditionalCheckFailed":
                existing = self.db.get_item(
                    TableName=self.table, ConsistentRead=True,
                    Key=to_item({"PK": ref_pk(order.channel, order.channel_order_id or ""), "SK": "REF"}),
                ).get("Item")
                raise DuplicateChannelOrder(from_item(existing)["order_id"] if existing else None) from exc
            if credit_index >= 0 and codes[credit_index] == "ConditionalCheckFailed":
                raise CreditLimitExceeded() from exc
            raise

    def cancel(self, order: Order, entry: TimelineEntry, reason: str, released: TimelineEntry | None) -> Order:
        """CANCELLED at the version read, and its reserved stock given back, in one transaction."""
        releases = order.allocations and released is not None
        actions: list[dict[str, Any]] = [
            {"Update": append_entries({
                "TableName": self.table, "Key": to_item({"PK": order_pk(order.order_id), "SK": ORDER_SK}),
                "UpdateExpression": "SET #s = :new, #v = :next, updated_at = :at, cancel_reason = :reason "
                                    "REMOVE allocation",
                "ConditionExpression": "#v = :v",
                "ExpressionAttributeNames": {"#s": "status", "#v": "version"},
                "ExpressionAttributeValues": to_values({
                    ":new": OrderStatus.CANCELLED.value, ":next": order.version + 1, ":v": order.version,
                    ":at": entry.at, ":reason": reason})}, [entry, released] if releases and released else [entry])},
        ]
        if releases:
            actions += [release_action(self.table, a) for a in per_stock_record(list(order.allocations))]
        actions += [move_shipment_action(self.table, s, ShipmentStatus.CANCELLED)
                    for s in order.shipments if s.status == ShipmentStatus.REQUESTED]
        try:
            self.db.transact_write_items(TransactItems=actions)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "TransactionCanceledException":
                raise Conflict(f"order {order.order_id} changed concurrently; read it again") from exc
            raise
        return order.with_status(OrderStatus.CANCELLED, at=entry.at)

    # -- reads ----------------------------------------------------------------------------
    def get(self, order_id: str) -> Order | None:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table, "ConsistentRead": True,
            "KeyConditionExpression": "PK = :pk",
            "ExpressionAttributeValues": {":pk": to_value(order_pk(order_id))},
        }
        while True:
            page = self.db.query(**kwargs)
            items.extend(from_item(i) for i in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        header = next((i for i in items if i["SK"] == ORDER_SK), None)
        details = next((i for i in items if i["SK"] == DETAILS_SK), None)
        if header is None or details is None:
            return None
        shipments = [i for i in items if i["SK"].startswith("SHIPMENT#")]
        invoices = [i for i in items if i["SK"].startswith("INVOICE#")]
        flags = [i for i in items if i["SK"].startswith("FLAG#")]
        return order_from_items(header, details, entries_of(items), shipments, invoices, flags)

    def list_page(self, index: str, partition: str, *, limit: int, token: str | None
                  ) -> tuple[list[dict[str, Any]], str | None]:
        pk_attr = f"{index}PK"
        kwargs: dict[str, Any] = {
            "TableName": self.table, "IndexName": index, "ScanIndexForward": False, "Limit": limit,
            "KeyConditionExpression": "#pk = :pk", "ExpressionAttributeNames": {"#pk": pk_attr},
            "ExpressionAttributeValues": {":pk": to_value(partition)},
        }
        start = decode_token(token, index_pk=pk_attr, partition=partition)
        if start:
            kwargs["ExclusiveStartKey"] = start
        page = self.db.query(**kwargs)
        summaries = [from_item(i)["summary"] for i in page.get("Items", []) if "summary" in i]
        statuses = self._statuses([s["order_id"] for s in summaries])
        listed = [{**s, "status": statuses[s["order_id"]]} for s in summaries if s["order_id"] in statuses]
        return listed, encode_token(page.get("LastEvaluatedKey"))

    def _statuses(self, order_ids: list[str]) -> dict[str, str]:
        """The current status of these orders (the index holds only what never changes):
        BatchGetItem of their headers, 100 keys a call, unprocessed keys asked again."""
        found: dict[str, str] = {}
        for start in range(0, len(order_ids), 100):
            request: dict[str, Any] = {self.table: {
                "Keys": [to_item({"PK": order_pk(i), "SK": ORDER_SK}) for i in order_ids[start:start + 100]],
                "ProjectionExpression": "order_id, #s", "ExpressionAttributeNames": {"#s": "status"}}}
            for attempt in range(6):
                try:
                    reply = self.db.batch_get_item(RequestItems=request)
                except ClientError as exc:
                    if is_retryable(exc):  # throttled beyond botocore's own retries
                        raise TransientError(f"reading the listed orders' status: {exc}") from exc
                    raise
                for item in reply.get("Responses", {}).get(self.table, []):
                    row = from_item(item)
                    found[row["order_id"]] = row["status"]
                request = reply.get("UnprocessedKeys") or {}
                if not request:
                    break
                if attempt < 5:
                    time.sleep(0.05 * 2**attempt)  # throttled: back off before asking again
            else:
                # never a page with orders silently missing: the client retries (503)
                raise TransientError("the listed orders' status could not be read (throttled); retry")
        return found
