"""Dispatch writes and the node's fulfilment requests (GSI1). The requests themselves are
written by allocate's Reserve, with the stock."""

from __future__ import annotations

from typing import Any

from functions.core.adapters.dynamodb import TableAdapter, from_item, to_item, to_value, to_values, transact
from functions.core.adapters.keys import header_key, node_shipments
from functions.core.adapters.paging import decode_token, encode_token
from functions.core.adapters.shipments import move_shipment_action
from functions.core.adapters.stock import ship_action
from functions.core.adapters.transitions import into
from functions.core.errors import Conflict
from functions.core.orders import Order, OrderStatus, Shipment, ShipmentStatus, TimelineEntry
from functions.core.sourcing import Allocation, per_stock_record
from functions.route.ports import StockShort

#: Where the stock updates start in the dispatch transaction (after the shipment and the order).
STOCK_ACTIONS = 2


class ShipmentTable(TableAdapter):
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
        actions: list[dict[str, Any]] = [
            move_shipment_action(self.table, shipment, ShipmentStatus.DISPATCHED, sets, (entry,)),
            {"Update": {"TableName": self.table, "Key": to_item(header_key(order.order_id)),
                        "UpdateExpression": "SET #s = :target, #v = :next, updated_at = :at",
                        "ConditionExpression": f"#v = :v AND {allowed}",
                        "ExpressionAttributeNames": {"#s": "status", "#v": "version"},
                        "ExpressionAttributeValues": to_values({
                            ":target": target.value, ":next": order.version + 1, ":v": order.version,
                            ":at": entry.at, **allowed_values})}},
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
