"""Stock and nodes in the single table.

- stock ``SKU#<sku>`` / ``NODE#<node>``: ``on_hand``, ``reserved``, ``version``.
- node ``NODE#<id>`` / ``NODE``, listed through GSI1 ``NODES`` / ``<node id>``; its ``summary``
  (the only attribute the index projects) carries what sourcing needs.
"""

from __future__ import annotations

from typing import Any

from functions.allocate.ports import StockLevel
from functions.core.adapters.dynamodb import TableAdapter, from_item, to_item, to_value
from functions.core.sourcing import Node

NODES_PARTITION = "NODES"


def sku_pk(sku: str) -> str:
    return f"SKU#{sku}"


def node_item(node: dict[str, Any]) -> dict[str, Any]:
    """The node item as the seed (and later node management) writes it."""
    summary = {k: node[k] for k in ("node_id", "country", "priority", "type", "cutoff")}
    return {"PK": f"NODE#{node['node_id']}", "SK": "NODE", "type": "node", **node,
            "GSI1PK": NODES_PARTITION, "GSI1SK": node["node_id"], "summary": summary}


def _level(item: dict[str, Any]) -> StockLevel:
    return StockLevel(sku=item["sku"], node_id=item["node_id"], on_hand=int(item.get("on_hand", 0)),
                      reserved=int(item.get("reserved", 0)), updated_at=item.get("updated_at"))


class StockTable(TableAdapter):
    def nodes(self) -> list[Node]:
        rows: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableName": self.table, "IndexName": "GSI1",
                                  "KeyConditionExpression": "GSI1PK = :p",
                                  "ExpressionAttributeValues": {":p": to_value(NODES_PARTITION)}}
        while True:
            page = self.db.query(**kwargs)
            rows += [from_item(i)["summary"] for i in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return [Node(node_id=r["node_id"], country=r["country"], priority=int(r["priority"]),
                     kind=r.get("type", "DC"), cutoff=r.get("cutoff", "15:00")) for r in rows]

    def levels(self, sku: str) -> list[StockLevel]:
        page = self.db.query(TableName=self.table, ConsistentRead=True,
                             KeyConditionExpression="PK = :pk AND begins_with(SK, :node)",
                             ExpressionAttributeValues={":pk": to_value(sku_pk(sku)), ":node": to_value("NODE#")})
        return [_level(from_item(i)) for i in page.get("Items", [])]

    def set_on_hand(self, sku: str, node_id: str, on_hand: int, at: str) -> StockLevel:
        result = self.db.update_item(
            TableName=self.table, Key=to_item({"PK": sku_pk(sku), "SK": f"NODE#{node_id}"}),
            UpdateExpression="SET on_hand = :o, updated_at = :at, sku = :sku, node_id = :node, #t = :t, "
                             "reserved = if_not_exists(reserved, :zero) ADD version :one",
            ExpressionAttributeNames={"#t": "type"},
            ExpressionAttributeValues={k: to_value(v) for k, v in {
                ":o": on_hand, ":at": at, ":sku": sku, ":node": node_id, ":t": "stock", ":zero": 0, ":one": 1,
            }.items()},
            ReturnValues="ALL_NEW",
        )
        return _level(from_item(result["Attributes"]))
