"""Which table changes the stream consumers act on, read from a stream record's images.

The event source mappings' filters (infra/constructs/stream_filters.py) let only these changes
through; the consumers check again here, so a record that a filter let in by mistake, or a
test event, is ignored rather than acted on. Images are plain values (Powertools' stream
record data classes deserialize them).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .keys import RESTOCKED, is_credit_note, is_header, is_invoice, is_return, is_shipment, is_stock, order_id_of_pk


def captured_order(event_name: str, new: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """A new order header: (order id, its summary with the status it was captured in)."""
    if event_name != "INSERT" or not is_header(new):
        return None
    return str(new["order_id"]), {**dict(new.get("summary") or {}), "status": new.get("status")}


def shipment_dispatched(new: dict[str, Any], old: dict[str, Any]) -> bool:
    """A shipment went REQUESTED -> DISPATCHED (not a later update of a dispatched shipment)."""
    return is_shipment(new) and new.get("status") == "DISPATCHED" and old.get("status") == "REQUESTED"


def order_cancelled(new: dict[str, Any], old: dict[str, Any]) -> bool:
    """An order header became CANCELLED."""
    return is_header(new) and new.get("status") == "CANCELLED" and old.get("status") != "CANCELLED"


def return_authorized(event_name: str, new: dict[str, Any]) -> str | None:
    """A return just authorised (its item written for the first time): its id."""
    if event_name != "INSERT" or not is_return(new):
        return None
    return str((new.get("summary") or {}).get("return_id") or "") or None


def credit_note_refunded(new: dict[str, Any], old: dict[str, Any]) -> str | None:
    """A credit note whose money was just given back (card refund or credit on account): its
    number; None for its issue, a later write, or any other item."""
    if not is_credit_note(new) or not new.get("refunded_at") or old.get("refunded_at"):
        return None
    if Decimal(str((new.get("summary") or {}).get("gross") or "0")) == 0:  # nothing was given back
        return None
    return str((new.get("summary") or {}).get("invoice_number") or "") or None


def order_of(image: dict[str, Any]) -> str:
    """The id of the order an item under ``ORDER#<id>`` belongs to."""
    return order_id_of_pk(str(image.get("PK", "")))


def invoice_view_of(image: dict[str, Any]) -> dict[str, Any] | None:
    """An invoice's or a credit note's view (its ``summary``), or None for any other item."""
    return dict(image.get("summary") or {}) if is_invoice(image) or is_credit_note(image) else None


def stock_restocked(new: dict[str, Any], old: dict[str, Any]) -> tuple[str, str, str, bool] | None:
    """A stock count written with the restock mark (``RESTOCKED``): (sku, node, the mark, whether
    ``available`` rose), or None for any other write (a reservation, a dispatch, the mark's
    removal)."""
    mark = new.get(RESTOCKED)
    if not is_stock(new) or not mark:
        return None
    rose = int(new.get("available", 0)) > int(old.get("available", 0) if old else 0)
    return str(new["sku"]), str(new["node_id"]), str(mark), rose


def receipts_added(new: dict[str, Any], old: dict[str, Any]) -> list[tuple[str, int]]:
    """A return item's receipts this write added, as (receipt id, its number on the return from
    1), or none for any other write (a return authorised, settled, any other item)."""
    if not is_return(new):
        return []
    before = {str(x.get("receipt_id")) for x in ((old.get("summary") or {}).get("receipts") or [])}
    receipts = (new.get("summary") or {}).get("receipts") or []
    return [(str(x["receipt_id"]), n) for n, x in enumerate(receipts, 1) if str(x["receipt_id"]) not in before]
