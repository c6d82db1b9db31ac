"""Stock writes of the allocate capability (reads are shared: ``core/adapters/stock.py``)."""

from __future__ import annotations

from botocore.exceptions import ClientError

from functions.core.adapters.dynamodb import from_item, to_item, to_values
from functions.core.adapters.keys import RESTOCKED, stock_key
from functions.core.adapters.stock import StockReader, level_from_item
from functions.core.errors import Conflict
from functions.core.sourcing import StockLevel


class StockTable(StockReader):
    def set_on_hand(self, sku: str, node_id: str, on_hand: int, at: str) -> StockLevel:
        """The node's count of ``sku`` (creating the record if new). Refused (Conflict, 409) below
        what is reserved there: those units are promised to orders, and a dispatch would drive
        ``on_hand`` negative; the node first rejects or ships those requests (API.md). Written
        with the restock mark (``RESTOCKED``), which wakes the SKU's waiting backorders."""
        try:
            result = self.db.update_item(
                TableName=self.table, Key=to_item(stock_key(sku, node_id)),
                UpdateExpression="SET on_hand = :o, available = :o - if_not_exists(reserved, :zero), "
                                 "reserved = if_not_exists(reserved, :zero), updated_at = :at, sku = :sku, "
                                 "node_id = :node, #t = :t, #r = :at ADD version :one",
                # the condition is checked against the item before the update
                ConditionExpression="attribute_not_exists(reserved) OR reserved <= :o",
                # the restock mark: the stream lets this write through to the restock consumer,
                # which runs the SKU's backordered orders again if ``available`` rose
                ExpressionAttributeNames={"#t": "type", "#r": RESTOCKED},
                ExpressionAttributeValues=to_values({
                    ":o": on_hand, ":at": at, ":sku": sku, ":node": node_id, ":t": "stock", ":zero": 0, ":one": 1,
                }),
                ReturnValues="ALL_NEW", ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            reserved = from_item(exc.response.get("Item") or {}).get("reserved")
            held = f"the {reserved} units reserved" if reserved is not None else "what is reserved"
            raise Conflict(f"on_hand {on_hand} is below {held} at {node_id} for {sku}: "
                           "reject or ship those requests first") from exc
        return level_from_item(from_item(result["Attributes"]))
