"""The waiting entries of backordered orders (``SKU#<sku>`` / ``BACKORDER#<at>#<order>``, in
the SKU's partition beside its stock records), written by allocate's Backorder in its own
transaction and read and removed by the restock consumer (capture's stream function). One
consistent Query of the SKU's partition reads its waiting orders oldest first and its stock.
A failed call is raised as it came: the stream consumer's record is delivered again."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from functions.core.backorders import Waiting

from .dynamodb import TableAdapter, from_item, to_item, to_value, to_values
from .keys import RESTOCKED, is_stock, is_waiting_backorder, sku_pk, stock_key, waiting_backorder_key


def waiting_puts(table: str, order_id: str, backordered_at: str, wanted: dict[str, int]) -> list[dict[str, Any]]:
    """One waiting entry per SKU of the order (transaction items of its Backorder write, which
    is conditional on the header, so a repeat or a re-run writes none)."""
    skus = sorted(wanted)
    return [{"Put": {"TableName": table, "Item": to_item({
        **waiting_backorder_key(sku, backordered_at, order_id), "type": "backorder", "order_id": order_id,
        "backordered_at": backordered_at, "sku": sku, "quantity": quantity, "skus": skus})}}
        for sku, quantity in sorted(wanted.items())]


def _waiting_of(item: dict[str, Any]) -> Waiting:
    return Waiting(order_id=str(item["order_id"]), backordered_at=str(item["backordered_at"]), sku=str(item["sku"]),
                   quantity=int(item["quantity"]), skus=tuple(str(s) for s in item.get("skus") or [item["sku"]]))


class WaitingBackorders(TableAdapter):
    def of_sku(self, sku: str) -> tuple[int, list[Waiting]]:
        """The units of ``sku`` available over all its nodes and its waiting orders, oldest
        first: one consistent Query of the SKU's partition (paged)."""
        available, waiting = 0, []
        params: dict[str, Any] = {"TableName": self.table, "ConsistentRead": True,
                                  "KeyConditionExpression": "PK = :pk",
                                  "ExpressionAttributeValues": {":pk": to_value(sku_pk(sku))}}
        while True:
            page = self.db.query(**params)
            for raw in page.get("Items", []):
                item = from_item(raw)
                if is_waiting_backorder(item):
                    waiting.append(_waiting_of(item))
                elif is_stock(item):
                    available += max(int(item.get("available", 0)), 0)
            if "LastEvaluatedKey" not in page:
                return available, waiting
            params["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def forget(self, waiting: Waiting) -> None:
        """The order waits no more (allocated or cancelled): its entries for every SKU go, each
        delete idempotent (a missing entry is no error)."""
        for sku in waiting.skus:
            self.db.delete_item(TableName=self.table,
                                Key=to_item(waiting_backorder_key(sku, waiting.backordered_at, waiting.order_id)))

    def restock_seen(self, sku: str, node_id: str, mark: str) -> None:
        """The restock that set ``mark`` on the stock record was handled: remove it, unless a
        newer restock replaced it (that one's stream record comes next)."""
        try:
            self.db.update_item(TableName=self.table, Key=to_item(stock_key(sku, node_id)),
                                UpdateExpression="REMOVE #r", ConditionExpression="#r = :mark",
                                ExpressionAttributeNames={"#r": RESTOCKED},
                                ExpressionAttributeValues=to_values({":mark": mark}))
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
