"""The timeline kept on the items the facts concern (functions/core/adapters/timeline.py)."""

from __future__ import annotations

import pytest

from functions.core.adapters.dynamodb import to_values
from functions.core.adapters.timeline import added_entries, append_entries, entries_of, with_entries
from functions.core.ids import ulid
from functions.core.orders import TimelineEntry

AT = "2026-11-24T01:00:00.000Z"


@pytest.mark.parametrize(("expression", "expected"), [
    ("SET #s = :s", "SET #tl = list_append(if_not_exists(#tl, :tl_none), :tl_new), #s = :s"),
    ("SET #s = :s ADD n :one", "SET #tl = list_append(if_not_exists(#tl, :tl_none), :tl_new), #s = :s ADD n :one"),
    ("ADD n :one", "SET #tl = list_append(if_not_exists(#tl, :tl_none), :tl_new) ADD n :one"),
    ("SET a = :a REMOVE b", "SET #tl = list_append(if_not_exists(#tl, :tl_none), :tl_new), a = :a REMOVE b"),
])
def test_entries_are_appended_in_the_set_clause_of_any_update(expression: str, expected: str) -> None:
    update = {"UpdateExpression": expression, "ExpressionAttributeNames": {"#s": "status"},
              "ExpressionAttributeValues": to_values({":s": "X"})}
    out = append_entries(update, [TimelineEntry(AT, "OrderAllocated", {"nodes": ["DC"]})])
    assert out["UpdateExpression"] == expected
    assert out["ExpressionAttributeNames"] == {"#s": "status", "#tl": "timeline"}
    assert out["ExpressionAttributeValues"][":tl_none"] == {"L": []}
    (value,) = out["ExpressionAttributeValues"][":tl_new"]["L"]
    assert value["M"]["event"] == {"S": "OrderAllocated"} and len(value["M"]["id"]["S"]) == 26
    assert append_entries(update, []) is update  # nothing to add: the update as it was


def test_the_order_timeline_merges_every_items_entries_by_time_keeping_a_writes_order() -> None:
    header = with_entries({"SK": "ORDER"}, [TimelineEntry(AT, "OrderAllocated", {}),
                                            TimelineEntry("2026-11-24T03:00:00.000Z", "OrderCompleted", {})])
    shipment = with_entries({"SK": "SHIPMENT#1"}, [TimelineEntry(AT, "ShipmentRequested", {"shipment_id": "1"})])
    details = with_entries({"SK": "DETAILS"}, [TimelineEntry("2026-11-24T00:00:00.000Z", "OrderCaptured", {})])
    # the same instant: the entry made first (the header's, in the same write) comes first
    assert [e.event for e in entries_of([shipment, details, header])] == [
        "OrderCaptured", "OrderAllocated", "ShipmentRequested", "OrderCompleted"]


def test_a_stream_record_tells_which_entries_its_write_added() -> None:
    old = with_entries({"SK": "INVOICE#1"}, [TimelineEntry(AT, "InvoiceIssued", {})])
    new = {**old, "timeline": [*old["timeline"], *with_entries({}, [TimelineEntry(AT, "PaymentCaptured", {})])
                               ["timeline"]]}
    assert [e["event"] for e in added_entries(new, old)] == ["PaymentCaptured"]
    assert [e["event"] for e in added_entries(old, {})] == ["InvoiceIssued"]  # an INSERT


def test_monotonic_ulids_increase_even_within_one_millisecond() -> None:
    made = [ulid(monotonic=True) for _ in range(200)]
    assert made == sorted(made) and len(set(made)) == 200
