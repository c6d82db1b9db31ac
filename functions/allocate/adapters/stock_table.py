"""Stock writes of the allocate capability (reads are shared: ``core/adapters/stock.py``)."""

from __future__ import annotations

from functions.core.adapters.dynamodb import from_item, to_item, to_values
from functions.core.adapters.keys import stock_key
from functions.core.adapters.stock import StockReader, level_from_item
from functions.core.sourcing import StockLevel


class StockTable(StockReader):
    def set_on_hand(self, sku: str, node_id: str, on_hand: int, at: str) -> StockLevel:
        result = self.db.update_item(
            TableName=self.table, Key=to_item(stock_key(sku, node_id)),
            UpdateExpression="SET on_hand = :o, available = :o - if_not_exists(reserved, :zero), "
                             "reserved = if_not_exists(reserved, :zero), updated_at = :at, sku = :sku, "
                             "node_id = :node, #t = :t ADD version :one",
            ExpressionAttributeNames={"#t": "type"},
            ExpressionAttributeValues=to_values({
                ":o": on_hand, ":at": at, ":sku": sku, ":node": node_id, ":t": "stock", ":zero": 0, ":one": 1,
            }),
            ReturnValues="ALL_NEW",
        )
        return level_from_item(from_item(result["Attributes"]))
