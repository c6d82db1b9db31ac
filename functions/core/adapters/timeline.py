"""The order's timeline, kept on the items the facts concern.

A transaction that records a fact appends its ``TimelineEntry`` to a ``timeline`` list on an
item it writes anyway — the order header for the order's own facts, the details item for the
capture, the shipment, invoice, notice or finance flag for theirs — instead of putting a
separate event item. Same record, same atomicity, no extra write: a separate item costs at
least 2 WRU inside a transaction, and an order has a dozen facts.

The order's timeline is every entry of every item under ``ORDER#<id>``, by time (the order is
read with one Query anyway). Each entry carries an ``id`` (a ULID): a stream record's old and
new images show which entries a write added, so the table stream is still the transactional
outbox for the facts published on the bus, and the id is the published event's id.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from functions.core.ids import ulid
from functions.core.orders import TimelineEntry

from .dynamodb import to_values

TIMELINE = "timeline"


def entry_value(entry: TimelineEntry) -> dict[str, Any]:
    # monotonic: entries of one write that share ``at`` keep the order they were made in
    return {"id": ulid(monotonic=True), "event": entry.event, "at": entry.at, "detail": entry.detail}


def with_entries(item: dict[str, Any], entries: Sequence[TimelineEntry]) -> dict[str, Any]:
    """A new item (before ``to_item``) that starts its timeline with ``entries``."""
    return {**item, TIMELINE: [*item.get(TIMELINE, []), *(entry_value(e) for e in entries)]}


def append_entries(update: dict[str, Any], entries: Sequence[TimelineEntry]) -> dict[str, Any]:
    """An ``Update`` action (its body, values already typed) that also appends ``entries`` to
    the item's timeline (creating the list on an item that has none)."""
    if not entries:
        return update
    clause = "#tl = list_append(if_not_exists(#tl, :tl_none), :tl_new)"
    expression = str(update.get("UpdateExpression", ""))
    found = re.search(r"\bSET\b", expression)
    expression = (f"{expression[:found.end()]} {clause},{expression[found.end():]}" if found
                  else f"SET {clause} {expression}".rstrip())
    return {**update, "UpdateExpression": expression,
            "ExpressionAttributeNames": {**update.get("ExpressionAttributeNames", {}), "#tl": TIMELINE},
            "ExpressionAttributeValues": {**update.get("ExpressionAttributeValues", {}),
                                          **to_values({":tl_none": [], ":tl_new": [entry_value(e) for e in entries]})}}


def entries_of(items: Iterable[dict[str, Any]]) -> list[TimelineEntry]:
    """Every entry of these items (plain, not typed), oldest first."""
    values = sorted((e for item in items for e in item.get(TIMELINE) or []),
                    key=lambda e: (str(e["at"]), str(e.get("id", ""))))
    return [TimelineEntry(at=str(e["at"]), event=str(e["event"]), detail=dict(e.get("detail") or {})) for e in values]


def added_entries(new: dict[str, Any], old: dict[str, Any]) -> list[dict[str, Any]]:
    """The entries a write added to an item, from a stream record's images (plain values)."""
    seen = {e.get("id") for e in old.get(TIMELINE) or []}
    return [dict(e) for e in new.get(TIMELINE) or [] if e.get("id") not in seen]
