"""Shipment items: ``ORDER#<order>`` / ``SHIPMENT#<shipment>``, listed per node and status
through GSI1 ``NODE#<node>#SHIPMENTS#<status>`` / ``<requested_at>#<shipment>`` (oldest first);
the projected ``summary`` is the fulfilment request a node reads, and the only copy of it:
the item holds besides only its keys, ``status`` (for conditions and stream filters), the ids
the stream consumers read, and its timeline — about 1 KB for a shipment of a line or two, as
each write bills the whole item.

Shipment ids are derived from the order id (``core.orders.shipment_id_for``): a Reserve run
twice writes the same ids, so the conditional puts make it once.
"""

from __future__ import annotations

from typing import Any

from functions.core.orders import Shipment, ShipmentStatus, TimelineEntry, request_view

from .dynamodb import to_item, to_values
from .keys import node_shipments, request_sort_key, shipment_key
from .timeline import append_entries


def shipment_item(s: Shipment, ship_to: dict[str, Any], shipping_method: str) -> dict[str, Any]:
    view = request_view(s, ship_to, shipping_method)
    return {**shipment_key(s.order_id, s.shipment_id), "type": "shipment",
            "order_id": s.order_id, "shipment_id": s.shipment_id, "status": s.status.value,
            "GSI1PK": node_shipments(s.node_id, s.status.value),
            "GSI1SK": request_sort_key(s.requested_at, s.shipment_id),
            "summary": view}


def move_shipment_action(table: str, s: Shipment, target: ShipmentStatus, sets: dict[str, Any] | None = None,
                         entries: tuple[TimelineEntry, ...] = ()) -> dict[str, Any]:
    """Move a REQUESTED shipment to ``target`` (a transaction item), its index entry with it,
    and append ``entries`` to its timeline."""
    values: dict[str, Any] = {":target": target.value, ":from": ShipmentStatus.REQUESTED.value,
                              ":pk": node_shipments(s.node_id, target.value)}
    names = {"#s": "status", "#sum": "summary"}
    expr = ["#s = :target", "#sum.#s = :target", "GSI1PK = :pk"]
    for i, (key, value) in enumerate((sets or {}).items()):
        names[f"#a{i}"] = key
        values[f":a{i}"] = value
        expr.append(f"#sum.#a{i} = :a{i}")
    return {"Update": append_entries({"TableName": table, "Key": to_item(shipment_key(s.order_id, s.shipment_id)),
                                      "UpdateExpression": "SET " + ", ".join(expr), "ConditionExpression": "#s = :from",
                                      "ExpressionAttributeNames": names,
                                      "ExpressionAttributeValues": to_values(values)}, entries)}
