"""Stock levels and the node network, read by every capability that sources orders, and the
stock writes of a reservation's life (reserve: allocate; ship: route; release: capture's cancel)
and of a return's receipt (restock: returns).

Stock ``SKU#<sku>`` / ``NODE#<node>`` keeps ``on_hand``, ``reserved`` and ``available``
(= on_hand - reserved, kept in the same writes) because DynamoDB conditions cannot subtract:
a reservation is the condition ``available >= :q``. The node network is read from its own
partition (``node_network.py``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from functions.core.errors import TransientError
from functions.core.sourcing import Allocation, Node, StockLevel

from .dynamodb import TableAdapter, from_item, to_item, to_value
from .keys import NETWORK_PK, RESTOCKED, STOCK_PREFIX, network_version_key, sku_pk, stock_key
from .node_network import NetworkReader, throttle_is_transient

#: Stock records an order may reserve in one transaction: Reserve writes them with the shipments
#: (at most one per stock record), and a cancel releases them and cancels those shipments, each in
#: one transaction of at most 100 actions (header + 2 per stock record + 2 notice marks: 99).
#: A larger plan is reserved, shipped and released in parts (``reservation_parts.py``).
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


#: Keys one BatchGetItem may ask for (DynamoDB's limit).
BATCH_GET_KEYS = 100
#: Rounds of a BatchGetItem's unprocessed keys (a throttle) before the read is a TransientError.
BATCH_GET_ROUNDS = 4


class StockReader(TableAdapter):
    def nodes(self) -> list[Node]:
        return NetworkReader(self.table, self._client).nodes()

    def version_and_levels(self, skus: Sequence[str], node_ids: Sequence[str]) -> tuple[int, list[StockLevel]]:
        """The node network's version and the stock records of ``skus`` at ``node_ids``, with
        consistent BatchGetItems of ``BATCH_GET_KEYS`` keys (the version in the first): what
        planning reads when it holds the network already — one request for an order of up to 99
        records instead of the version's GetItem and a Query per SKU. A record that does not
        exist is simply absent.

        A large order's records take several requests: each record is read consistently (its
        latest committed value), but the batches are not one snapshot — a record of a later
        batch may have moved after the version and the earlier records were read. Planning
        needs no more: Reserve's conditions (``available >= q``) are the check that counts, and
        a moved record sends the plan round the StockMoved loop."""
        keys = [network_version_key(), *(stock_key(sku, node) for sku in skus for node in node_ids)]
        items: list[dict[str, Any]] = []
        for start in range(0, len(keys), BATCH_GET_KEYS):
            items += self._batch_get(keys[start:start + BATCH_GET_KEYS])
        version, levels = 0, []
        for item in (from_item(i) for i in items):
            if item["PK"] == NETWORK_PK:
                version = int(item.get("version", 0))
            else:
                levels.append(level_from_item(item))
        return version, levels

    def _batch_get(self, keys: list[dict[str, str]]) -> list[dict[str, Any]]:
        request: dict[str, Any] = {self.table: {"Keys": [to_item(k) for k in keys], "ConsistentRead": True}}
        items: list[dict[str, Any]] = []
        for attempt in range(BATCH_GET_ROUNDS):
            with throttle_is_transient("reading stock and the node network"):
                answer = self.db.batch_get_item(RequestItems=request)
            items += answer.get("Responses", {}).get(self.table, [])
            request = answer.get("UnprocessedKeys") or {}
            if not request:
                return items
            time.sleep(0.05 * 2**attempt)  # unprocessed keys: the table is busy (AWS's advice: back off)
        raise TransientError("reading stock and the node network: the table is busy, retry shortly")

    def levels(self, sku: str) -> list[StockLevel]:
        page = self.db.query(TableName=self.table, ConsistentRead=True,
                             KeyConditionExpression="PK = :pk AND begins_with(SK, :node)",
                             ExpressionAttributeValues={":pk": to_value(sku_pk(sku)), ":node": to_value(STOCK_PREFIX)})
        return [level_from_item(from_item(i)) for i in page.get("Items", [])]


def restock_action(table: str, sku: str, node_id: str, quantity: int, at: str) -> dict[str, Any]:
    """Units come back to a node's stock (a returned item found resellable; a transaction item):
    on hand and available both rise, the record is made if the node never held the SKU, and the
    restock mark (``RESTOCKED``) wakes the SKU's waiting backorders as a count does."""
    return {"Update": {"TableName": table, "Key": to_item(stock_key(sku, node_id)),
                       "UpdateExpression": "SET reserved = if_not_exists(reserved, :zero), updated_at = :at, "
                                           "sku = :sku, node_id = :node, #t = :t, #r = :at "
                                           "ADD on_hand :q, available :q, version :one",
                       "ExpressionAttributeNames": {"#t": "type", "#r": RESTOCKED},
                       "ExpressionAttributeValues": {
                           ":q": to_value(quantity), ":zero": to_value(0), ":one": to_value(1), ":at": to_value(at),
                           ":sku": to_value(sku), ":node": to_value(node_id), ":t": to_value("stock")}}}
