"""The return item's shared writes: its summary (what GSI1 projects) and a status change
conditional on its version. The returns capability authorises and receives returns; the invoice
capability moves a credited return on to ``REFUNDED`` with the same conditional write."""

from __future__ import annotations

from typing import Any

from functions.core.orders import TimelineEntry
from functions.core.returns import Return, receipt_view

from .dynamodb import to_item, to_values
from .keys import node_returns, return_key
from .timeline import append_entries


def return_summary(r: Return) -> dict[str, Any]:
    return {
        "return_id": r.return_id, "rma_number": r.rma_number, "order_id": r.order_id, "channel": r.channel,
        "status": r.status.value, "outcome": r.outcome.value,
        "lines": [{"line_id": ln.line_id, "sku": ln.sku, "quantity": ln.quantity, "reason": ln.reason.value}
                  for ln in r.lines],
        "return_to": {"node_id": r.return_to_node, "address": r.return_to_address},
        "exchange_lines": [{"sku": e.sku, "quantity": e.quantity} for e in r.exchange_lines],
        "exchange_order_id": r.exchange_order_id, "received": dict(r.received),
        "receipts": [receipt_view(x) for x in r.receipts],
        "created_at": r.created_at, "updated_at": r.updated_at, "version": r.version,
    }


def return_update(table: str, before: Return, after: Return, entry: TimelineEntry) -> dict[str, Any]:
    """The return moved on to ``after`` (status, summary, its node's listing) on condition that it
    is still at ``before``'s version, with ``entry`` on its timeline."""
    return {"Update": append_entries({
        "TableName": table, "Key": to_item(return_key(after.order_id, after.return_id)),
        "UpdateExpression": "SET #s = :s, version = :v, updated_at = :at, summary = :sum, GSI1PK = :gsi",
        "ConditionExpression": "version = :before",
        "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": to_values({
            ":s": after.status.value, ":v": after.version, ":at": after.updated_at, ":sum": return_summary(after),
            ":gsi": node_returns(after.return_to_node, after.status.value), ":before": before.version})},
        [entry])}
