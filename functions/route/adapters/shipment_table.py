"""Dispatch writes and the node's fulfilment requests (GSI1). The requests themselves are
written by allocate's Reserve, with the stock."""

from __future__ import annotations

from typing import Any

from functions.core.adapters.dynamodb import TableAdapter, from_item, to_item, to_value, to_values, transact
from functions.core.adapters.keys import header_key, node_shipments, shipment_key
from functions.core.adapters.paging import decode_token, encode_token
from functions.core.adapters.shipments import move_shipment_action
from functions.core.adapters.stock import ship_action
from functions.core.adapters.transitions import into
from functions.core.errors import Conflict
from functions.core.orders import (
    Order,
    OrderStatus,
    PartStatus,
    ReservationPart,
    Shipment,
    ShipmentStatus,
    TimelineEntry,
)
from functions.core.sourcing import Allocation, per_stock_record
from functions.route.ports import StockShort

#: Where the stock updates start in the dispatch transaction (after the shipment and the order).
STOCK_ACTIONS = 2
#: DynamoDB's actions per transaction (``reservation_parts.TRANSACTION_ACTIONS``, whose module
#: only a large shipment loads)
TRANSACTION_ACTIONS = 100


class ShipmentTable(TableAdapter):
    def _order_moved(self, order: Order, target: OrderStatus, at: str, allowed: str,
                     allowed_values: dict[str, Any]) -> dict[str, Any]:
        """The order header into ``target`` at its version (a transaction item)."""
        return {"Update": {"TableName": self.table, "Key": to_item(header_key(order.order_id)),
                           "UpdateExpression": "SET #s = :target, #v = :next, updated_at = :at",
                           "ConditionExpression": f"#v = :v AND {allowed}",
                           "ExpressionAttributeNames": {"#s": "status", "#v": "version"},
                           "ExpressionAttributeValues": to_values({
                               ":target": target.value, ":next": order.version + 1, ":v": order.version,
                               ":at": at, **allowed_values})}}

    def dispatch(self, order: Order, shipment: Shipment, target: OrderStatus, sets: dict[str, Any],
                 entry: TimelineEntry) -> None:
        """REQUESTED -> DISPATCHED, the order to ``target`` at the version read, reserved stock
        shipped — one transaction; Conflict if anything moved since it was read, StockShort if a
        stock record holds fewer units than it ships (``ship_action``'s guard), TransientError if
        the table is throttled."""
        allowed, allowed_values = into(target)
        # one update per stock record: a transaction may not touch an item twice (two lines, one SKU)
        records = per_stock_record(
            [Allocation(ln.line_id, ln.sku, shipment.node_id, ln.quantity) for ln in shipment.lines])
        if STOCK_ACTIONS + len(records) > TRANSACTION_ACTIONS:
            return self._dispatch_in_parts(order, shipment, target, sets, entry)
        actions: list[dict[str, Any]] = [
            move_shipment_action(self.table, shipment, ShipmentStatus.DISPATCHED, sets, (entry,)),
            self._order_moved(order, target, entry.at, allowed, allowed_values),
            *(ship_action(self.table, a) for a in records),
        ]
        # a conflict with a concurrent transaction (another shipment of the order) is a change
        refused = transact(self, actions, f"dispatching {shipment.shipment_id}", conflicts_refuse=True)
        if not refused:
            return
        short = [a for i, a in enumerate(records, STOCK_ACTIONS)
                 if i < len(refused) and refused[i] == "ConditionalCheckFailed"]
        # the shipment and the order as read, only the stock short: reading again cannot help
        if short and all(code == "None" for code in refused[:STOCK_ACTIONS]):
            raise StockShort(short)
        raise Conflict(f"shipment {shipment.shipment_id} changed concurrently; read it again")

    def _dispatch_in_parts(self, order: Order, shipment: Shipment, target: OrderStatus, sets: dict[str, Any],
                           entry: TimelineEntry) -> None:
        """A shipment with more stock records than one transaction takes (an order reserved in
        parts, ``core/adapters/reservation_parts.py``): each of its node's parts shipped in its
        own transaction (marker RESERVED → SHIPPED, conditional on the order as read, so a
        cancel that committed first stops it and one that comes later sees a shipped part and
        refuses), then one transaction moves the shipment and the order, on condition that
        every part is shipped. Refused half-way (StockShort, a concurrent change), the parts
        shipped are given back (unshipped, while the shipment is still REQUESTED) before the
        refusal is raised: a dispatch is all or nothing as in one transaction. A crash leaves
        shipped parts that the node's retry of the same confirmation finds done."""
        from functions.core.adapters.reservation_parts import part_check, records_of, ship_part_actions

        parts = [p for p in order.reservation_parts if p.node_id == shipment.node_id]
        if not parts:
            raise RuntimeError(f"shipment {shipment.shipment_id}: no reservation parts to dispatch")
        allowed, allowed_values = into(target)
        header_values = {":v": order.version, **allowed_values}
        as_read = {"ConditionCheck": {"TableName": self.table, "Key": to_item(header_key(order.order_id)),
                                      "ConditionExpression": f"#v = :v AND {allowed}",
                                      "ExpressionAttributeNames": {"#v": "version", "#s": "status"},
                                      "ExpressionAttributeValues": to_values(header_values)}}
        try:
            for part in parts:
                if part.status == PartStatus.SHIPPED:
                    continue  # shipped by an earlier try of this dispatch
                actions = [*ship_part_actions(self.table, order.order_id, part), as_read]
                refused = transact(self, actions, f"dispatching part {part.number} of {shipment.shipment_id}",
                                   conflicts_refuse=True)
                if refused:
                    records = records_of(part)
                    short = [a for i, a in enumerate(records) if refused[i] == "ConditionalCheckFailed"]
                    if short and all(code == "None" for code in refused[len(records):]):
                        raise StockShort(short)
                    raise Conflict(f"shipment {shipment.shipment_id} changed concurrently; read it again")
            final = [
                move_shipment_action(self.table, shipment, ShipmentStatus.DISPATCHED, sets, (entry,)),
                self._order_moved(order, target, entry.at, allowed, allowed_values),
                *(part_check(self.table, order.order_id, p, PartStatus.SHIPPED) for p in parts),
            ]
            if transact(self, final, f"dispatching {shipment.shipment_id}", conflicts_refuse=True):
                raise Conflict(f"shipment {shipment.shipment_id} changed concurrently; read it again")
        except (StockShort, Conflict):
            self._unship(order, shipment, parts)
            raise

    def _unship(self, order: Order, shipment: Shipment, parts: list[ReservationPart]) -> None:
        """Give back the stock of the shipment's shipped parts, each once, and only while the
        shipment is REQUESTED (a concurrent dispatch of it that finished keeps its parts)."""
        from functions.core.adapters.reservation_parts import unship_part_actions

        still_requested = {"ConditionCheck": {
            "TableName": self.table, "Key": to_item(shipment_key(order.order_id, shipment.shipment_id)),
            "ConditionExpression": "#s = :requested", "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": to_values({":requested": ShipmentStatus.REQUESTED.value})}}
        for part in parts:
            transact(self, [*unship_part_actions(self.table, order.order_id, part), still_requested],
                     f"giving back part {part.number} of {shipment.shipment_id}")

    def requests(self, node_id: str, status: ShipmentStatus, *, limit: int, token: str | None
                 ) -> tuple[list[dict[str, Any]], str | None]:
        partition = node_shipments(node_id, status.value)
        kwargs: dict[str, Any] = {"TableName": self.table, "IndexName": "GSI1", "Limit": limit,
                                  "KeyConditionExpression": "GSI1PK = :p",
                                  "ExpressionAttributeValues": {":p": to_value(partition)}}
        start = decode_token(token, index_pk="GSI1PK", partition=partition)
        if start:
            kwargs["ExclusiveStartKey"] = start
        page = self.db.query(**kwargs)
        return [from_item(i)["summary"] for i in page.get("Items", [])], encode_token(page.get("LastEvaluatedKey"))
