"""The parts of a large order's reservation: how an order whose stock records do not fit one
TransactWriteItems (100 actions) is reserved, shipped and released in several, each exactly once.

An order with at most ``stock.MAX_STOCK_RECORDS_PER_ORDER`` stock records is reserved in one
transaction with the plan on its header, and none of this applies (the happy path). A larger
plan is cut into parts (``plan_parts``): the records of one node, at most ``PART_RECORDS`` of
them, in a fixed order, so the same plan always gives the same parts. Each part is reserved in
its own transaction together with its marker item ``ORDER#<id>`` / ``RESERVE#<execution>#<n>``
(``keys.reservation_part_key``), which holds what the part reserved and where its stock is
(``RESERVED``, ``SHIPPED``). The marker is the part's idempotency record:

- reserve: the marker is put ``attribute_not_exists`` with the part's records (allocate's
  ``adapters/chunked_reserve.py``);
- ship: marker ``RESERVED`` → ``SHIPPED`` with the records' ``ship_action`` (route's dispatch);
- release: marker deleted if ``RESERVED`` with the records' ``release_action`` (the cancel,
  and a reserve's compensation);
- unship: marker ``SHIPPED`` → ``RESERVED`` with on hand and reserved given back (a chunked
  dispatch that could not finish).

Each of these is one transaction whose marker condition makes a repeat, a retry or a racing
writer change nothing: a part is reserved, shipped and released at most once.

Sizes: a part's reserve is its marker + at most 90 records + the header (92 actions); a chunked
dispatch's final transaction is the shipment + the header + a check per part of the node;
a marker of 90 records is about 6 KB; every transaction stays far below the 4 MB limit
(``MAX_TRANSACTION_BYTES``; 250 lines write about 40 KB in the largest).
"""

from __future__ import annotations

import json
import re
from typing import Any

from functions.core.orders import PartStatus, ReservationPart
from functions.core.sourcing import Allocation, per_stock_record

from .dynamodb import from_item, to_item, to_value, to_values
from .keys import reservation_part_key, stock_key
from .stock import release_action, ship_action

#: DynamoDB's limits of one TransactWriteItems.
TRANSACTION_ACTIONS = 100
MAX_TRANSACTION_BYTES = 4 * 1024 * 1024
#: Stock records of one part: its reserve (marker + records + header) fits one transaction with
#: room to spare, and a node's parts stay few enough for the dispatch's final checks.
PART_RECORDS = 90


def plan_parts(execution_id: str, allocations: list[Allocation]) -> list[ReservationPart]:
    """The plan cut into parts: per node (by node id), its records by SKU, ``PART_RECORDS`` a
    part; each part holds the lines' allocations of its records. Deterministic: the same plan
    gives the same parts (a retried Reserve finds its markers as it wrote them)."""
    parts: list[ReservationPart] = []
    for node in sorted({a.node_id for a in allocations}):
        skus = sorted({a.sku for a in allocations if a.node_id == node})
        for start in range(0, len(skus), PART_RECORDS):
            chunk = set(skus[start:start + PART_RECORDS])
            lines = tuple(a for a in allocations if a.node_id == node and a.sku in chunk)
            parts.append(ReservationPart(execution_id=execution_id, number=len(parts) + 1, node_id=node,
                                         status=PartStatus.RESERVED, lines=lines))
    return parts


def records_of(part: ReservationPart) -> list[Allocation]:
    """One per stock record (a transaction may not touch an item twice)."""
    return per_stock_record(list(part.lines))


def same_part(a: ReservationPart, b: ReservationPart) -> bool:
    """The same reservation (status aside): a marker written by this very plan."""
    return (a.execution_id, a.number, a.node_id, sorted(a.lines, key=_line_key)) == (
        b.execution_id, b.number, b.node_id, sorted(b.lines, key=_line_key))


def _line_key(a: Allocation) -> tuple[str, str, str, int]:
    return (a.line_id, a.sku, a.node_id, a.quantity)


def part_item(order_id: str, part: ReservationPart) -> dict[str, Any]:
    return {**reservation_part_key(order_id, part.execution_id, part.number), "type": "reservation_part",
            "order_id": order_id, "execution_id": part.execution_id, "part": part.number,
            "node_id": part.node_id, "status": part.status.value,
            "lines": [{"line_id": a.line_id, "sku": a.sku, "quantity": a.quantity} for a in part.lines]}


def part_from_item(item: dict[str, Any]) -> ReservationPart:
    node = str(item["node_id"])
    return ReservationPart(execution_id=str(item["execution_id"]), number=int(item["part"]), node_id=node,
                           status=PartStatus(item["status"]),
                           lines=tuple(Allocation(str(ln["line_id"]), str(ln["sku"]), node, int(ln["quantity"]))
                                       for ln in item.get("lines") or []))


def part_from_low_level(item: dict[str, Any]) -> ReservationPart:
    return part_from_item(from_item(item))


def put_part_action(table: str, order_id: str, part: ReservationPart) -> dict[str, Any]:
    """The marker of a newly reserved part; refused (returning the marker found) if it exists."""
    return {"Put": {"TableName": table, "Item": to_item(part_item(order_id, part)),
                    "ConditionExpression": "attribute_not_exists(PK)",
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}}


def _move_part(table: str, order_id: str, part: ReservationPart, source: PartStatus,
               target: PartStatus) -> dict[str, Any]:
    return {"Update": {"TableName": table,
                       "Key": to_item(reservation_part_key(order_id, part.execution_id, part.number)),
                       "UpdateExpression": "SET #st = :target", "ConditionExpression": "#st = :source",
                       "ExpressionAttributeNames": {"#st": "status"},
                       "ExpressionAttributeValues": to_values({":target": target.value, ":source": source.value})}}


def part_check(table: str, order_id: str, part: ReservationPart, status: PartStatus) -> dict[str, Any]:
    """The part exists and its stock is ``status`` (a transaction item that writes nothing)."""
    return {"ConditionCheck": {"TableName": table,
                               "Key": to_item(reservation_part_key(order_id, part.execution_id, part.number)),
                               "ConditionExpression": "#st = :status", "ExpressionAttributeNames": {"#st": "status"},
                               "ExpressionAttributeValues": to_values({":status": status.value})}}


def release_part_actions(table: str, order_id: str, part: ReservationPart) -> list[dict[str, Any]]:
    """Give the part's units back and delete its marker, only if it still holds them."""
    return [*(release_action(table, a) for a in records_of(part)),
            {"Delete": {"TableName": table,
                        "Key": to_item(reservation_part_key(order_id, part.execution_id, part.number)),
                        "ConditionExpression": "#st = :reserved", "ExpressionAttributeNames": {"#st": "status"},
                        "ExpressionAttributeValues": to_values({":reserved": PartStatus.RESERVED.value})}}]


def ship_part_actions(table: str, order_id: str, part: ReservationPart) -> list[dict[str, Any]]:
    """The part's units leave the building (``ship_action`` per record, its guard included),
    once: the marker moves RESERVED → SHIPPED. The stock actions come first (their indexes are
    the records')."""
    return [*(ship_action(table, a) for a in records_of(part)),
            _move_part(table, order_id, part, PartStatus.RESERVED, PartStatus.SHIPPED)]


def unship_part_actions(table: str, order_id: str, part: ReservationPart) -> list[dict[str, Any]]:
    """Undo ``ship_part_actions`` (a chunked dispatch that did not finish): on hand and reserved
    given back, available unchanged, the marker SHIPPED → RESERVED."""
    return [*({"Update": {"TableName": table, "Key": to_item(stock_key(a.sku, a.node_id)),
                          "UpdateExpression": "ADD on_hand :q, reserved :q",
                          "ExpressionAttributeValues": {":q": to_value(a.quantity)}}} for a in records_of(part)),
            _move_part(table, order_id, part, PartStatus.SHIPPED, PartStatus.RESERVED)]


def transaction_bytes(actions: list[dict[str, Any]]) -> int:
    """About what DynamoDB counts against the 4 MB of a transaction (the serialized request)."""
    return len(json.dumps(actions, default=str))


def only_used(update: dict[str, Any]) -> dict[str, Any]:
    """A transaction item whose attribute names and values are only those its expressions use
    (DynamoDB refuses unused ones): for items derived from another's condition."""
    text = " ".join(str(update.get(k, "")) for k in ("UpdateExpression", "ConditionExpression"))
    out = dict(update)
    for attr, sigil in (("ExpressionAttributeNames", "#"), ("ExpressionAttributeValues", ":")):
        used = set(re.findall(re.escape(sigil) + r"[A-Za-z0-9_]+", text))
        kept = {k: v for k, v in (update.get(attr) or {}).items() if k in used}
        if kept:
            out[attr] = kept
        else:
            out.pop(attr, None)
    return out

