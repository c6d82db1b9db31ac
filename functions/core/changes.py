"""Which table changes the stream consumers act on, read from a stream record's images.

The event source mappings' filters (infra/constructs/stream_filters.py) let only these changes
through; the consumers check again here, so a record that a filter let in by mistake, or a
test event, is ignored rather than acted on.
"""

from __future__ import annotations

from typing import Any


def shipment_dispatched(new: dict[str, Any], old: dict[str, Any]) -> bool:
    """A shipment went REQUESTED -> DISPATCHED (not a later update of a dispatched shipment)."""
    return (str(new.get("SK", "")).startswith("SHIPMENT#") and new.get("status") == "DISPATCHED"
            and old.get("status") == "REQUESTED")


def order_cancelled(new: dict[str, Any], old: dict[str, Any]) -> bool:
    """An order header became CANCELLED."""
    return new.get("SK") == "ORDER" and new.get("status") == "CANCELLED" and old.get("status") != "CANCELLED"
