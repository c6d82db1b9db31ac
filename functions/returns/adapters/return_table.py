"""Returns in the table: the return item under its order, the order's return ledger, a node's
returns coming to it (GSI1), the channels' settings and the nodes as return destinations.

Item shapes (docs/ARCHITECTURE.md, "Single table"):
- return ``ORDER#<id>`` / ``RETURN#<return id>``: ``status`` and ``version`` for conditional
  writes, the return in ``summary`` (what GSI1 projects: a node's listing reads it whole), its
  facts on its ``timeline``; ``GSI1PK = NODE#<node>#RETURNS#<status>``, ``GSI1SK =
  <created_at>#<return id>``.
- ledger ``ORDER#<id>`` / ``RETURNS``: ``returns`` (how many were authorised), ``lines``
  (units per line id returned or on their way back) and ``version`` (moved on by every write).
- settings ``SETTINGS#CHANNEL#<channel>`` / ``SETTINGS``: ``return_window_days``.
"""

from __future__ import annotations

from typing import Any

from functions.core.adapters.dynamodb import TableAdapter, from_item, to_item, to_value, to_values, transact
from functions.core.adapters.keys import (
    channel_settings_key,
    node_returns,
    return_key,
    return_ledger_key,
)
from functions.core.adapters.node_network import network_query, throttle_is_transient
from functions.core.adapters.order_reader import LEDGER_LINES, LEDGER_VERSION, return_from_item
from functions.core.adapters.paging import decode_token, encode_token
from functions.core.adapters.return_writes import return_summary, return_update
from functions.core.adapters.stock import restock_action
from functions.core.adapters.timeline import with_entries
from functions.core.orders import TimelineEntry
from functions.core.returns import Return, return_view
from functions.returns.ports import ChannelSettings, LedgerMoved, ReturnMoved, ReturnNode


def return_item(r: Return, entry: TimelineEntry) -> dict[str, Any]:
    item: dict[str, Any] = {
        **return_key(r.order_id, r.return_id), "type": "return", "status": r.status.value, "version": r.version,
        "updated_at": r.updated_at, "summary": return_summary(r),
        "GSI1PK": node_returns(r.return_to_node, r.status.value), "GSI1SK": f"{r.created_at}#{r.return_id}",
    }
    if r.request_key:
        item |= {"request_key": r.request_key, "request_digest": r.request_digest}
    return with_entries(item, (entry,))


def ledger_update(table: str, r: Return, returns_before: int, returning: dict[str, int],
                  ledger_version: int = 0) -> dict[str, Any]:
    """The ledger's update of an authorisation: the count moved on from ``returns_before``, the
    version from ``ledger_version``, and the units per line as read (``returning``) plus this
    return's, on condition that count and version are still as read. Every writer of the ledger
    (an authorisation, a rejection or a close giving units back) moves the version, so the
    version as read vouches for every line as read (the use case checked them against what was
    dispatched); the expression's length does not grow with the lines (DynamoDB allows 4 KB),
    so a return of all 250 lines of an order is one write like a return of one."""
    lines = dict(returning)
    for ln in r.lines:
        lines[ln.line_id] = lines.get(ln.line_id, 0) + ln.quantity
    values: dict[str, Any] = {":n": returns_before + 1, ":lines": lines}
    condition = "attribute_not_exists(#n)"
    if returns_before:
        condition, values[":before"] = "#n = :before", returns_before
    version, set_version = _version_guard(ledger_version, values)
    return {"Update": {"TableName": table, "Key": to_item(return_ledger_key(r.order_id)),
                       "UpdateExpression": f"SET #n = :n, #lines = :lines, {set_version}",
                       "ConditionExpression": f"{condition} AND {version}",
                       "ExpressionAttributeNames": {"#n": "returns", "#lines": LEDGER_LINES, "#v": LEDGER_VERSION},
                       "ExpressionAttributeValues": to_values(values)}}


def _version_guard(ledger_version: int, values: dict[str, Any]) -> tuple[str, str]:
    """The condition that the ledger is at ``ledger_version`` (0: it has none yet) and the SET
    that moves it on (its values added to ``values``)."""
    values[":v_next"] = ledger_version + 1
    if ledger_version:
        values[":v"] = ledger_version
        return "#v = :v", "#v = :v_next"
    return "attribute_not_exists(#v)", "#v = :v_next"


class ReturnTable(TableAdapter):
    def authorize(self, ret: Return, *, returns_before: int, returning: dict[str, int],
                  entry: TimelineEntry, ledger_version: int = 0) -> None:
        actions = [
            ledger_update(self.table, ret, returns_before, returning, ledger_version),
            {"Put": {"TableName": self.table, "Item": to_item(return_item(ret, entry)),
                     "ConditionExpression": "attribute_not_exists(PK)"}},
        ]
        # a concurrent authorisation of the same order is a lost race: read again
        if transact(self, actions, f"authorising {ret.return_id}", conflicts_refuse=True):
            raise LedgerMoved(ret.order_id)

    def receive(self, *, before: Return, after: Return, restock: dict[str, int], entry: TimelineEntry) -> None:
        actions = [return_update(self.table, before, after, entry),
                   *(restock_action(self.table, sku, after.return_to_node, units, after.updated_at)
                     for sku, units in sorted(restock.items()))]
        if transact(self, actions, f"receiving {after.return_id}", conflicts_refuse=True):
            raise ReturnMoved(after.return_id)

    def end(self, *, before: Return, after: Return, ledger_version: int, returning: dict[str, int],
            entry: TimelineEntry) -> None:
        """The return rejected or closed (``after``) and the ledger's lines as ``returning`` (the
        units that never arrived given back), each on condition of its version as read."""
        values: dict[str, Any] = {":lines": returning}
        version, set_version = _version_guard(ledger_version, values)
        ledger = {"Update": {
            "TableName": self.table, "Key": to_item(return_ledger_key(after.order_id)),
            "UpdateExpression": f"SET #lines = :lines, {set_version}",
            "ConditionExpression": f"attribute_exists(PK) AND {version}",
            "ExpressionAttributeNames": {"#lines": LEDGER_LINES, "#v": LEDGER_VERSION},
            "ExpressionAttributeValues": to_values(values)}}
        refused = transact(self, [return_update(self.table, before, after, entry), ledger],
                           f"ending {after.return_id}", conflicts_refuse=True)
        if refused and refused[0] == "ConditionalCheckFailed":
            raise ReturnMoved(after.return_id)
        if refused:
            raise LedgerMoved(after.order_id)

    def settings(self, channel: str) -> ChannelSettings:
        with throttle_is_transient(f"reading the settings of channel {channel}"):
            item = self.db.get_item(TableName=self.table, Key=to_item(channel_settings_key(channel)),
                                    ConsistentRead=True).get("Item")
        if not item:
            return ChannelSettings(channel=channel)
        plain = from_item(item)
        return ChannelSettings(channel=channel, return_window_days=int(plain["return_window_days"]),
                               updated_at=plain.get("updated_at"))

    def put_settings(self, settings: ChannelSettings) -> None:
        with throttle_is_transient(f"writing the settings of channel {settings.channel}"):
            self.db.put_item(TableName=self.table, Item=to_item({
                **channel_settings_key(settings.channel), "type": "channel_settings", "channel": settings.channel,
                "return_window_days": settings.return_window_days, "updated_at": settings.updated_at}))

    def listing(self, node_id: str, status: str, *, limit: int, token: str | None
                ) -> tuple[list[dict[str, Any]], str | None]:
        partition = node_returns(node_id, status)
        kwargs: dict[str, Any] = {"TableName": self.table, "IndexName": "GSI1", "Limit": limit,
                                  "KeyConditionExpression": "GSI1PK = :p",
                                  "ExpressionAttributeValues": {":p": to_value(partition)}}
        start = decode_token(token, index_pk="GSI1PK", partition=partition)
        if start:
            kwargs["ExclusiveStartKey"] = start
        with throttle_is_transient(f"listing the returns coming to {node_id}"):
            page = self.db.query(**kwargs)
        views = [return_view(return_from_item(from_item(i)["summary"])) for i in page.get("Items", [])]
        return views, encode_token(page.get("LastEvaluatedKey"))


class ReturnNodeReader(TableAdapter):
    """The node network as return destinations (the whole node items: address, accepts_returns)."""

    def nodes(self) -> list[ReturnNode]:
        kwargs = network_query(self.table)
        out: list[ReturnNode] = []
        while True:
            with throttle_is_transient("reading the node network"):
                page = self.db.query(**kwargs)
            for raw in page.get("Items", []):
                item = from_item(raw)
                if item.get("type") != "node":
                    continue
                address = {"name": item.get("name"), **(item.get("address") or {})}
                out.append(ReturnNode(node_id=item["node_id"], country=address.get("country", ""),
                                      priority=int(item.get("priority", 0)), active=bool(item.get("active", True)),
                                      accepts_returns=bool(item.get("accepts_returns", True)),
                                      address={k: v for k, v in address.items() if v is not None}))
            if "LastEvaluatedKey" not in page:
                return out
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
