"""Capture's writes on the single table: the order's items in one transaction (with its
idempotency record, channel reference and credit check), the cancel, and the listings of
orders by channel, customer and month. Reads of one order are the shared reader's
(``core/adapters/order_reader.py``).

- channel ref ``CHANNEL#<ch>#REF#<channel_order_id>`` / ``REF``: uniqueness per channel.
- idempotency record ``IDEMPOTENCY#<principal>#<sha256 of the key>`` / ``IDEMPOTENCY``: the
  request's key, its body's hash and the order it created, in the capture transaction (TTL).
"""

from __future__ import annotations

import time
from dataclasses import asdict
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from functions.capture.ports import (
    AlreadyCaptured,
    CaptureInProgress,
    CreditCurrencyMismatch,
    CreditLimitExceeded,
    DuplicateChannelOrder,
    HeldKey,
    IdempotencyClaim,
)
from functions.core.adapters.dynamodb import from_item, is_retryable, to_item, to_value, to_values, transact
from functions.core.adapters.keys import (
    CLOSE_OPEN_ORDER,
    channel_orders,
    channel_ref_key,
    credit_key,
    customer_orders,
    details_key,
    header_key,
    idempotency_key,
    open_order_keys,
    order_index_keys,
    orders_of_month,
)
from functions.core.adapters.notice_marks import supersede_action
from functions.core.adapters.order_reader import OrderTableReader, tax_item
from functions.core.adapters.paging import decode_token, encode_token
from functions.core.adapters.shipments import move_shipment_action
from functions.core.adapters.stock import release_action
from functions.core.adapters.timeline import append_entries, with_entries
from functions.core.adapters.transitions import into
from functions.core.errors import Conflict, TransientError
from functions.core.events import after
from functions.core.notices import TRIGGERED_BY, inapplicable, superseded_by
from functions.core.orders import Order, OrderStatus, PartStatus, ShipmentStatus, TimelineEntry
from functions.core.sourcing import per_stock_record


def _money(value: Decimal) -> str:
    return str(value)


def summary_of(order: Order) -> dict[str, Any]:
    summary = {"order_id": order.order_id, "channel": order.channel, "channel_order_id": order.channel_order_id,
               "customer_id": order.customer.customer_id, "currency": order.currency,
               "total": _money(order.totals.total), "created_at": order.created_at}
    if order.exchange_for:
        summary["exchange_for"] = order.exchange_for
    return summary


def header_item(order: Order, open_for: int = 900) -> dict[str, Any]:
    """The small mutable item (see ``core/adapters/order_reader.py``), on the open orders' index
    (GSI4) until a final status: due for the reconciler ``open_for`` seconds after its capture."""
    return {
        **open_order_keys(order.order_id, after(order.created_at, open_for)),
        **header_key(order.order_id), "type": "order",
        "order_id": order.order_id, "status": order.status.value, "version": order.version,
        "updated_at": order.updated_at, "cancel_reason": order.cancel_reason,
        "summary": summary_of(order),
        **order_index_keys(order.channel, order.customer.customer_id, order.created_at, order.order_id),
    }


def details_item(order: Order) -> dict[str, Any]:
    """What the order was captured with; never updated."""
    return {
        **details_key(order.order_id), "type": "order_details",
        "order_id": order.order_id, "channel": order.channel, "channel_order_id": order.channel_order_id,
        "currency": order.currency,
        "customer": {k: v for k, v in asdict(order.customer).items() if v is not None},
        "lines": [{"line_id": ln.line_id, "sku": ln.sku, "quantity": ln.quantity,
                   "unit_price": _money(ln.unit_price), "tax_class": ln.tax_class,
                   "net": _money(ln.net), "tax": _money(ln.tax),
                   # written only when false: the details item stays as small as before
                   **({} if ln.returnable else {"returnable": False})} for ln in order.lines],
        "shipping_address": {k: v for k, v in asdict(order.shipping_address).items() if v is not None},
        "shipping_method": order.shipping_method,
        "payment": {k: (_money(v) if isinstance(v, Decimal) else v)
                    for k, v in asdict(order.payment).items() if v is not None},
        "totals": {k: _money(v) for k, v in asdict(order.totals).items()},
        **({"tax": tax_item(order.tax)} if order.tax else {}),
        **({"purchase_order_number": order.purchase_order_number} if order.purchase_order_number else {}),
        "created_at": order.created_at,
    }


def _notices_untold(order: Order) -> list[str]:
    """The order's notices a cancel makes inapplicable (``core.notices.superseded_by``) whose
    claim may still be coming: their trigger is on the timeline as read, and the timeline does
    not show them as told (sent or skipped). Read from the order the cancel read anyway; the
    cancel commits only at that version, so no trigger committed since.

    A notice whose trigger is not on the timeline needs no mark, for the trigger can no longer
    happen: the workflow sends ``order_confirmed`` only after a committed Reserve
    (``OrderAllocated``) and ``order_backordered`` only after a committed Backorder
    (``OrderBackordered``), and both writes are conditional on a status the transition table
    allows, which CANCELLED is not: a cancelled order is never allocated nor backordered. (A
    stray claim after the cancel reads a CANCELLED order, final, and is skipped by notify's
    read check.) A notice told since the read is only marked needlessly."""
    happened = {e.event for e in order.timeline}
    told = {e.detail.get("kind") for e in order.timeline if e.event in ("NoticeSent", "NoticeSkipped")}
    return [kind for kind in superseded_by(OrderStatus.CANCELLED)
            if TRIGGERED_BY.get(kind) in happened and kind not in told]


class OrderTable(OrderTableReader):
    """Order persistence of capture. Every state change is a conditional write; multi-item
    changes are one TransactWriteItems, so nothing is ever half-written."""

    def __init__(self, table_name: str, dynamodb_client: Any = None, *, open_for: int = 900) -> None:
        super().__init__(table_name, dynamodb_client)
        #: Seconds after its capture an order not final is due for the reconciler (GSI4).
        self.open_for = open_for

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
                "Item": to_item({**idempotency_key(idempotency.principal, idempotency.key),
                                 "type": "idempotency", "order_id": order.order_id,
                                 "request_hash": idempotency.request_hash, "expires_at": idempotency.expires_at}),
                # an expired record (not yet removed by TTL) no longer holds the key
                "ConditionExpression": "attribute_not_exists(PK) OR expires_at < :now",
                "ExpressionAttributeValues": to_values({":now": int(time.time())}),
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}})
        actions += [
            {"Put": {"TableName": self.table, "Item": to_item(header_item(order, self.open_for)),
                     "ConditionExpression": "attribute_not_exists(PK)"}},
            {"Put": {"TableName": self.table, "Item": to_item(with_entries(details_item(order), [first_event]))}},
        ]
        ref_index = credit_index = -1
        if order.channel_order_id:
            ref_index = len(actions)
            actions.append({"Put": {
                "TableName": self.table,
                "Item": to_item({**channel_ref_key(order.channel, order.channel_order_id),
                                 "type": "channel_ref", "order_id": order.order_id}),
                "ConditionExpression": "attribute_not_exists(PK)"}})
        if credit_limit_check:
            credit_index = len(actions)
            # Conditions cannot add, so the account keeps ``available_credit`` (limit - exposure)
            # next to ``exposure`` and both move in the same update. The account's currency is
            # part of the condition; a refusal returns the account, so telling "no account",
            # "another currency" and "too little credit" apart costs no read.
            actions.append({"Update": {
                "TableName": self.table, "Key": to_item(credit_key(order.channel, order.customer.customer_id)),
                "UpdateExpression": "ADD exposure :total, available_credit :minus",
                "ConditionExpression": "attribute_exists(PK) AND currency = :currency AND available_credit >= :total",
                "ExpressionAttributeValues": {":total": to_value(order.totals.total),
                                              ":minus": to_value(-order.totals.total),
                                              ":currency": to_value(order.currency)},
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}})
        # a conflict here is a concurrent request with the same key or reference: an answer (409)
        refused = transact(self, actions, f"capturing order {order.order_id}", conflicts_refuse=True)
        if not refused:
            return
        if idempotency is not None and refused[0] == "ConditionalCheckFailed":
            old = refused.old_item(0)
            raise AlreadyCaptured(str(old.get("order_id", "")),
                                  same_request=old.get("request_hash") == idempotency.request_hash)
        if "TransactionConflict" in refused:
            raise CaptureInProgress()
        if ref_index >= 0 and refused[ref_index] == "ConditionalCheckFailed":
            existing = self.db.get_item(TableName=self.table, ConsistentRead=True,
                                        Key=to_item(channel_ref_key(order.channel, order.channel_order_id or "")),
                                        ).get("Item")
            raise DuplicateChannelOrder(from_item(existing)["order_id"] if existing else None)
        if credit_index >= 0 and refused[credit_index] == "ConditionalCheckFailed":
            account = refused.old_item(credit_index)
            if account.get("currency") and account["currency"] != order.currency:  # else: no usable account
                raise CreditCurrencyMismatch(str(account.get("currency")))
            raise CreditLimitExceeded()
        raise RuntimeError(f"capturing order {order.order_id} was refused: {list(refused)}")  # a 500: never seen

    def held_key(self, principal: str, key: str) -> HeldKey | None:
        """Read only when a request was refused (its body invalid or no longer priceable): is
        its key already held? The happy path learns it from the capture transaction itself."""
        try:
            item = self.db.get_item(TableName=self.table, ConsistentRead=True,
                                    Key=to_item(idempotency_key(principal, key))).get("Item")
        except ClientError as exc:
            if is_retryable(exc):
                raise TransientError(f"reading the Idempotency-Key record: {exc}") from exc
            raise
        record = from_item(item) if item else None
        if not record or int(record.get("expires_at", 0)) < int(time.time()):
            return None
        return HeldKey(order_id=str(record["order_id"]), request_hash=str(record["request_hash"]))

    def cancel(self, order: Order, entry: TimelineEntry, reason: str, released: TimelineEntry | None) -> Order:
        """CANCELLED at the version read (from a status the transition table allows), its
        reserved stock given back, its open requests withdrawn and the claims of the notices it
        makes inapplicable marked (``_supersede``), in one transaction; Conflict
        if the order moved since it was read (or a concurrent transaction wrote it),
        TransientError if the table is throttled."""
        if order.reservation_parts:
            return self._cancel_in_parts(order, entry, reason, released)
        releases = order.allocations and released is not None
        allowed, allowed_values = into(OrderStatus.CANCELLED)
        actions: list[dict[str, Any]] = [
            {"Update": append_entries({
                "TableName": self.table, "Key": to_item(header_key(order.order_id)),
                "UpdateExpression": "SET #s = :new, #v = :next, updated_at = :at, cancel_reason = :reason "
                                    f"REMOVE allocation, {CLOSE_OPEN_ORDER}",
                "ConditionExpression": f"#v = :v AND {allowed}",
                "ExpressionAttributeNames": {"#s": "status", "#v": "version"},
                "ExpressionAttributeValues": to_values({
                    ":new": OrderStatus.CANCELLED.value, ":next": order.version + 1, ":v": order.version,
                    ":at": entry.at, ":reason": reason, **allowed_values})},
                [entry, released] if releases and released else [entry])},
        ]
        if releases:
            actions += [release_action(self.table, a) for a in per_stock_record(list(order.allocations))]
        actions += [move_shipment_action(self.table, s, ShipmentStatus.CANCELLED)
                    for s in order.shipments if s.status == ShipmentStatus.REQUESTED]
        actions += [self._supersede(order.order_id, kind, entry.at) for kind in _notices_untold(order)]
        # a conflict with a concurrent transaction (Reserve, a dispatch) is a change: read again
        if transact(self, actions, f"cancelling order {order.order_id}", conflicts_refuse=True):
            raise Conflict(f"order {order.order_id} changed concurrently; read it again")
        return order.with_status(OrderStatus.CANCELLED, at=entry.at)

    def _cancel_in_parts(self, order: Order, entry: TimelineEntry, reason: str,
                         released: TimelineEntry | None) -> Order:
        """The cancel of an order reserved in parts: first one transaction — the header at its
        version → CANCELLED, a check that each part read still holds its stock (a dispatch
        that shipped one since is a change: read again), the open requests withdrawn and the
        notice marks — then each part released in its own (``release_parts``). Once CANCELLED,
        nothing else writes a part (Reserve's and a dispatch's writes check the header), and
        every Reserve part moved the version, so the parts read are all there are."""
        from functions.core.adapters.reservation_parts import TRANSACTION_ACTIONS, part_check

        allowed, allowed_values = into(OrderStatus.CANCELLED)
        actions: list[dict[str, Any]] = [
            {"Update": append_entries({
                "TableName": self.table, "Key": to_item(header_key(order.order_id)),
                "UpdateExpression": "SET #s = :new, #v = :next, updated_at = :at, cancel_reason = :reason "
                                    "REMOVE allocation, reserved_parts, reserving_by",
                "ConditionExpression": f"#v = :v AND {allowed}",
                "ExpressionAttributeNames": {"#s": "status", "#v": "version"},
                "ExpressionAttributeValues": to_values({
                    ":new": OrderStatus.CANCELLED.value, ":next": order.version + 1, ":v": order.version,
                    ":at": entry.at, ":reason": reason, **allowed_values})},
                [entry, released] if released else [entry])},
            *(part_check(self.table, order.order_id, p, PartStatus.RESERVED) for p in order.reservation_parts),
            *(move_shipment_action(self.table, s, ShipmentStatus.CANCELLED)
              for s in order.shipments if s.status == ShipmentStatus.REQUESTED),
            *(self._supersede(order.order_id, kind, entry.at) for kind in _notices_untold(order)),
        ]
        if len(actions) > TRANSACTION_ACTIONS:
            raise RuntimeError(f"order {order.order_id}: {len(actions)} actions to cancel it")  # > 90 parts: never
        if transact(self, actions, f"cancelling order {order.order_id}", conflicts_refuse=True):
            raise Conflict(f"order {order.order_id} changed concurrently; read it again")
        self.release_parts(order)
        return order.with_status(OrderStatus.CANCELLED, at=entry.at)

    def release_parts(self, order: Order) -> None:
        """Each part of a cancelled order given back in its own transaction, conditional on its
        marker (a repeat, or the reserving execution's own compensation, finds it gone)."""
        from functions.core.adapters.reservation_parts import release_part_actions

        for part in order.reservation_parts:
            if part.status == PartStatus.RESERVED:
                transact(self, release_part_actions(self.table, order.order_id, part),
                         f"releasing part {part.number} of order {order.order_id}")

    def _supersede(self, order_id: str, kind: str, at: str) -> dict[str, Any]:
        """Mark the claim of the order's ``kind`` notice as superseded by the cancel: a claim
        after this commits is refused by its own condition and recorded as skipped (notify's
        ``adapters/notice_table.py``); a notice claimed before the cancel keeps its claim."""
        return supersede_action(self.table, order_id, kind, inapplicable(kind, OrderStatus.CANCELLED) or "", at)

    # -- listings (newest first) ----------------------------------------------------------
    def channel_orders(self, channel: str, *, limit: int, token: str | None
                       ) -> tuple[list[dict[str, Any]], str | None]:
        return self._page("GSI1", channel_orders(channel), limit=limit, token=token)

    def customer_orders(self, channel: str, customer_id: str, *, limit: int, token: str | None
                        ) -> tuple[list[dict[str, Any]], str | None]:
        return self._page("GSI2", customer_orders(channel, customer_id), limit=limit, token=token)

    def month_orders(self, month: str, *, limit: int, token: str | None) -> tuple[list[dict[str, Any]], str | None]:
        return self._page("GSI3", orders_of_month(month), limit=limit, token=token)

    def _page(self, index: str, partition: str, *, limit: int, token: str | None
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
                "Keys": [to_item(header_key(i)) for i in order_ids[start:start + 100]],
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
