"""Node items, written only here (node management) and read by sourcing through
``core/adapters/node_network.py``: ``NODES`` / ``NODE#<id>``, one partition with the network's
version ``NODES`` / ``VERSION``.

A write is one TransactWriteItems: the node, on condition that it is new or still at the version
read, and ``ADD version 1`` on the network's version item — so a reader that sees the new
version sees the node as written (or later). Two writes at once meet on the version item as a
transaction conflict: the use case reads again and retries.
"""

from __future__ import annotations

from typing import Any

from functions.core.adapters.dynamodb import TableAdapter, from_item, to_item, to_values, transact
from functions.core.adapters.keys import NETWORK_PK, network_version_key, node_key
from functions.core.adapters.node_network import network_query, throttle_is_transient
from functions.core.adapters.paging import decode_token, encode_token
from functions.core.errors import Conflict
from functions.route.nodes import ManagedNode, NodeAddress, NodeDefinition


def node_item(node: ManagedNode) -> dict[str, Any]:
    d = node.definition
    summary = node.sourcing()
    return {
        **node_key(node.node_id), "type": "node", "node_id": node.node_id, "node_type": d.node_type,
        "name": d.name, "address": {k: v for k, v in vars(d.address).items() if v is not None},
        "priority": d.priority, "cut_off": d.cut_off, "timezone": d.timezone,
        "processing_days": d.processing_days, "daily_capacity": d.daily_capacity,
        "shipping_methods": list(d.shipping_methods), "accepts_returns": d.accepts_returns, "active": d.active,
        "version": node.version, "created_at": node.created_at, "updated_at": node.updated_at,
        "updated_by": node.updated_by,
        # what sourcing reads (node_network.node_from_summary), projected by the Plan task's Query
        "summary": {"node_id": node.node_id, "country": summary.country, "priority": summary.priority,
                    "type": summary.kind, "cutoff": summary.cutoff, "active": summary.active,
                    "timezone": summary.timezone},
    }


def node_from_item(item: dict[str, Any]) -> ManagedNode:
    capacity = item.get("daily_capacity")
    definition = NodeDefinition(
        node_type=item["node_type"], name=item["name"], address=NodeAddress(**item["address"]),
        priority=int(item["priority"]), cut_off=item["cut_off"], timezone=item["timezone"],
        processing_days=int(item["processing_days"]), daily_capacity=None if capacity is None else int(capacity),
        shipping_methods=tuple(item["shipping_methods"]), accepts_returns=bool(item["accepts_returns"]),
        active=bool(item["active"]))
    return ManagedNode(node_id=item["node_id"], definition=definition, version=int(item["version"]),
                       created_at=item["created_at"], updated_at=item["updated_at"],
                       updated_by=item.get("updated_by", ""))


class NodeTable(TableAdapter):
    def get(self, node_id: str) -> ManagedNode | None:
        with throttle_is_transient(f"reading node {node_id}"):
            item = self.db.get_item(TableName=self.table, Key=to_item(node_key(node_id)),
                                    ConsistentRead=True).get("Item")
        return node_from_item(from_item(item)) if item else None

    def put(self, node: ManagedNode, *, expected_version: int | None) -> None:
        if expected_version is None:
            condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(PK)"}
        else:
            condition = {"ConditionExpression": "#v = :v", "ExpressionAttributeNames": {"#v": "version"},
                         "ExpressionAttributeValues": to_values({":v": expected_version})}
        actions: list[dict[str, Any]] = [
            {"Put": {"TableName": self.table, "Item": to_item(node_item(node)), **condition}},
            {"Update": {"TableName": self.table, "Key": to_item(network_version_key()),
                        "UpdateExpression": "ADD #v :one SET updated_at = :at, #t = :t",
                        "ExpressionAttributeNames": {"#v": "version", "#t": "type"},
                        "ExpressionAttributeValues": to_values({":one": 1, ":at": node.updated_at,
                                                                ":t": "node_network"})}},
        ]
        # a conflict with a concurrent node write is an answer here: the use case reads again
        if transact(self, actions, f"writing node {node.node_id}", conflicts_refuse=True):
            raise Conflict(f"node {node.node_id} changed concurrently; read it again")

    def listing(self, *, limit: int, token: str | None) -> tuple[list[ManagedNode], str | None]:
        kwargs: dict[str, Any] = {**network_query(self.table), "Limit": limit}
        start = decode_token(token, index_pk="PK", partition=NETWORK_PK)
        if start:
            kwargs["ExclusiveStartKey"] = start
        with throttle_is_transient("listing the nodes"):
            page = self.db.query(**kwargs)
        nodes = [node_from_item(from_item(i)) for i in page.get("Items", [])]
        return nodes, encode_token(page.get("LastEvaluatedKey"))

    def every_node(self) -> list[ManagedNode]:
        kwargs: dict[str, Any] = network_query(self.table)
        out: list[ManagedNode] = []
        while True:
            with throttle_is_transient("listing the nodes"):
                page = self.db.query(**kwargs)
            out += [node_from_item(from_item(i)) for i in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return out
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
