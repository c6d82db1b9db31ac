"""Stock levels and the node network, read by every capability that sources orders, and the
stock writes of a reservation's life (reserve: allocate; ship: route; release: capture's cancel).

Stock ``SKU#<sku>`` / ``NODE#<node>`` keeps ``on_hand``, ``reserved`` and ``available``
(= on_hand - reserved, kept in the same writes) because DynamoDB conditions cannot subtract:
a reservation is the condition ``available >= :q``. The node network is read from its own
partition (``node_network.py``).
"""

from __future__ import annotations

from typing import Any

from functions.core.sourcing import Allocation, Node, StockLevel

from .dynamodb import TableAdapter, from_item, to_item, to_value
from .keys import STOCK_PREFIX, sku_pk, stock_key
from .node_network import NetworkReader

#: Stock records one order may reserve: Reserve writes them with the shipments (at most one per
#: stock record), and a cancel releases them and cancels those shipments, each in one
#: transaction of at most 100 actions (header + 2 per stock record: 97).
MAX_STOCK_RECORDS_PER_ORDER = 48


def level_from_item(item: dict[str, Any]) -> StockLevel:
    return StockLevel(sku=item["sku"], node_id=item["node_id"], on_hand=int(item.get("on_hand", 0)),
                      reserved=int(item.get("reserved", 0)), updated_at=item.get("updated_at"))


def reserve_action(table: str, allocation: Allocation) -> dict[str, Any]:
    """Take units from a node's stock, refused if fewer are available (a transaction item)."""
    return {"Update": {"TableName": table, "Key": to_item(stock_key(allocation.sku, allocation.node_id)),
                       "UpdateExpression": "ADD reserved :q, available :minus",
                       "ConditionExpression": "attribute_exists(PK) AND available >= :q",
                       "ExpressionAttributeValues": {":q": to_value(allocation.quantity),
                                                     ":minus": to_value(-allocation.quantity)}}}


def ship_action(table: str, allocation: Allocation) -> dict[str, Any]:
    """Reserved units leave the building: on hand and reserved both drop, available stays.
    Refused (the whole dispatch with it) if the record does not hold them: every stock write
    keeps ``on_hand >= reserved``, so this only guards against a record edited around the API —
    stock is never driven below zero."""
    return {"Update": {"TableName": table, "Key": to_item(stock_key(allocation.sku, allocation.node_id)),
                       "UpdateExpression": "ADD on_hand :minus, reserved :minus",
                       "ConditionExpression": "on_hand >= :q AND reserved >= :q",
                       "ExpressionAttributeValues": {":minus": to_value(-allocation.quantity),
                                                     ":q": to_value(allocation.quantity)}}}


def release_action(table: str, allocation: Allocation) -> dict[str, Any]:
    """Give reserved units back (a transaction item; the caller's conditions make it once)."""
    return {"Update": {"TableName": table, "Key": to_item(stock_key(allocation.sku, allocation.node_id)),
                       "UpdateExpression": "ADD reserved :minus, available :q",
                       "ExpressionAttributeValues": {":q": to_value(allocation.quantity),
                                                     ":minus": to_value(-allocation.quantity)}}}


class StockReader(TableAdapter):
    def nodes(self) -> list[Node]:
        return NetworkReader(self.table, self._client).nodes()

    def levels(self, sku: str) -> list[StockLevel]:
        page = self.db.query(TableName=self.table, ConsistentRead=True,
                             KeyConditionExpression="PK = :pk AND begins_with(SK, :node)",
                             ExpressionAttributeValues={":pk": to_value(sku_pk(sku)), ":node": to_value(STOCK_PREFIX)})
        return [level_from_item(from_item(i)) for i in page.get("Items", [])]
