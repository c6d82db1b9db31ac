"""The node network as sourcing reads it: route's Plan task, allocate's availability and its
check that a stock update names a node. The node items are written by route's node management
(``route/adapters/node_table.py``), the only writer.

Nodes live in one partition, ``NODES`` / ``NODE#<id>``, beside the network's version
``NODES`` / ``VERSION`` (every node write adds 1 to it in the same transaction). So one
consistent Query reads the whole network as of that moment — an index (the old GSI1 listing)
can only be read eventually consistently, and a node created by ``PUT /nodes`` must take stock
at once — and one consistent GetItem of a tiny item says whether a cached copy is still current.
Each node's ``summary`` is what sourcing needs (``Node``); the rest of the item is the node as
an agent manages it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import ClientError

from functions.core.errors import TransientError
from functions.core.sourcing import Node

from .dynamodb import TableAdapter, from_item, is_retryable, to_item, to_values
from .keys import NETWORK_NODE_PREFIX, NETWORK_PK, network_version_key


def node_from_summary(summary: dict[str, Any]) -> Node:
    return Node(node_id=summary["node_id"], country=summary["country"], priority=int(summary["priority"]),
                kind=summary.get("type", "DC"), cutoff=summary.get("cutoff", "15:00"),
                active=bool(summary.get("active", True)), timezone=summary.get("timezone", "UTC"))


def network_query(table: str) -> dict[str, Any]:
    """The consistent Query of every node item (the caller adds paging)."""
    return {"TableName": table, "ConsistentRead": True,
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :node)",
            "ExpressionAttributeValues": to_values({":pk": NETWORK_PK, ":node": NETWORK_NODE_PREFIX})}


@contextmanager
def throttle_is_transient(what: str) -> Iterator[None]:
    """A read of the node partition refused by a throttle is a TransientError: the API answers 503
    with Retry-After, the workflow retries it (its ASL retries only that); anything else as it came."""
    try:
        yield
    except ClientError as exc:
        if is_retryable(exc):
            raise TransientError(f"{what}: the table is busy, retry shortly") from exc
        raise


class NetworkReader(TableAdapter):
    def nodes(self) -> list[Node]:
        """Every node, active or not (sourcing skips inactive ones), as of this moment."""
        kwargs = {**network_query(self.table), "ProjectionExpression": "summary"}
        out: list[Node] = []
        while True:
            with throttle_is_transient("reading the node network"):
                page = self.db.query(**kwargs)
            out += [node_from_summary(from_item(i)["summary"]) for i in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return out
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def version(self) -> int:
        """The network's version (0 before the first node is written); one consistent read of
        an item under 100 bytes: 1 RRU."""
        with throttle_is_transient("reading the node network's version"):
            item = self.db.get_item(TableName=self.table, Key=to_item(network_version_key()), ConsistentRead=True,
                                    ProjectionExpression="#v", ExpressionAttributeNames={"#v": "version"}).get("Item")
        return int(from_item(item).get("version", 0)) if item else 0
