"""The Reserve and Backorder writes: one transaction each, conditional on the order's status
and on the workflow execution that carries it, so a repeat or a duplicate execution changes
nothing. Reserve also writes the order's fulfilment requests (shipments), and — only when it
allocates a backordered order (stock arrived) — the ``superseded`` mark on the claim of the
order's backorder notice (``core/notices.py``: it no longer applies once allocated), so a
backorder email whose claim comes after the allocation is refused by the claim's own
condition. A normal order's Reserve (from CAPTURED, never backordered) has no such item.

A plan of more than ``MAX_STOCK_RECORDS_PER_ORDER`` stock records does not fit one transaction:
``chunked_reserve.py`` reserves it in parts, on the same header conditions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from functions.allocate.ports import StockMoved
from functions.core.adapters.dynamodb import TableAdapter, from_item, to_item, to_values, transact
from functions.core.adapters.keys import header_key
from functions.core.adapters.notice_marks import supersede_action
from functions.core.adapters.shipments import shipment_item
from functions.core.adapters.stock import MAX_STOCK_RECORDS_PER_ORDER, reserve_action
from functions.core.adapters.timeline import append_entries, with_entries
from functions.core.adapters.transitions import into
from functions.core.notices import inapplicable, superseded_by
from functions.core.orders import OrderStatus, Shipment, TimelineEntry, reachable, sources
from functions.core.sourcing import Allocation, allocations_to, per_stock_record

if TYPE_CHECKING:
    from .chunked_reserve import ChunkedReserve

#: Where a reserved order can be by the time a retry of its Reserve arrives.
RESERVED_OR_LATER = frozenset({OrderStatus.IN_FULFILLMENT, *reachable(OrderStatus.IN_FULFILLMENT)}
                              - {OrderStatus.CANCELLED})


def _superseded_from(source: OrderStatus) -> tuple[str, ...]:
    """The notices an allocation from ``source`` makes inapplicable whose claim may still come:
    ``superseded_by(IN_FULFILLMENT)`` is the backorder notice, sent only for an order that was
    backordered, so an order allocated from CAPTURED (never backordered) needs no mark."""
    return superseded_by(OrderStatus.IN_FULFILLMENT) if source == OrderStatus.BACKORDERED else ()


class ReservationTable(TableAdapter):
    def _header_update(self, order_id: str, execution_id: str, entry: TimelineEntry, target: OrderStatus,
                       extra: dict[str, Any] | None = None, source: OrderStatus | None = None) -> dict[str, Any]:
        """The header moved into ``target`` (from ``source`` only, when given: one of the
        statuses the transition table allows); a refusal returns the header as it was."""
        at = entry.at
        sets = ["#s = :target", "#v = #v + :one", "updated_at = :at", "accepted_by = :exec"]
        values: dict[str, Any] = {":target": target.value, ":one": 1, ":at": at, ":exec": execution_id}
        for i, (key, value) in enumerate((extra or {}).items()):
            sets.append(f"{key} = :x{i}")
            values[f":x{i}"] = value
        if source is None:
            allowed, allowed_values = into(target)
        else:
            if source not in sources(target):
                raise ValueError(f"no write moves an order from {source.value} into {target.value}")
            allowed, allowed_values = "#s = :from", {":from": source.value}
        # the first execution to move the order out of CAPTURED carries it (Express runs at
        # least once: a duplicate execution is turned away here, as is a late one after a
        # Backorder, which recorded its own execution). A BACKORDERED order is at rest (the
        # execution that backordered it has ended): the next execution to allocate it (a
        # restock's) takes it and is recorded; the status condition alone makes that once.
        owner = "" if source == OrderStatus.BACKORDERED else \
            " AND (attribute_not_exists(accepted_by) OR accepted_by = :exec)"
        return {"Update": append_entries({
            "TableName": self.table, "Key": to_item(header_key(order_id)),
            "UpdateExpression": "SET " + ", ".join(sets),
            "ConditionExpression": f"{allowed}{owner}",
            "ExpressionAttributeNames": {"#s": "status", "#v": "version"},
            "ExpressionAttributeValues": to_values({**values, **allowed_values}),
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}, [entry])}

    def _header(self, order_id: str) -> dict[str, Any]:
        item = self.db.get_item(TableName=self.table, ConsistentRead=True,
                                Key=to_item(header_key(order_id))).get("Item")
        return from_item(item) if item else {}

    def reserve(self, order_id: str, execution_id: str, allocations: list[Allocation], entry: TimelineEntry,
                shipments: list[Shipment], requested: list[TimelineEntry], ship_to: dict[str, Any],
                shipping_method: str) -> tuple[bool, str]:
        """CAPTURED (or BACKORDERED) -> IN_FULFILLMENT with the plan reserved and a shipment per
        node, at once. Written as from CAPTURED first (the order's usual status: no read, no
        extra item); a header refused because the order is BACKORDERED (the item the refusal
        returns says so, no read) is written again as from BACKORDERED, with the mark on its
        backorder notice's claim in the same transaction."""
        per_stock = per_stock_record(allocations)
        if len(per_stock) > MAX_STOCK_RECORDS_PER_ORDER:  # too large for one transaction: in parts
            return self._in_parts().reserve(order_id, execution_id, allocations, entry, shipments, requested,
                                            ship_to, shipping_method)
        source = OrderStatus.CAPTURED
        while True:
            actions = [
                self._header_update(order_id, execution_id, entry, OrderStatus.IN_FULFILLMENT,
                                    {"allocation": allocations_to(allocations)}, source),
                *(reserve_action(self.table, a) for a in per_stock),
                # each shipment's ShipmentRequested entry goes on the shipment itself
                *({"Put": {"TableName": self.table, "ConditionExpression": "attribute_not_exists(PK)",
                           "Item": to_item(with_entries(shipment_item(s, ship_to, shipping_method),
                                                        [e for e in requested
                                                         if e.detail.get("shipment_id") == s.shipment_id]))}}
                  for s in shipments),
                *(supersede_action(self.table, order_id, kind,
                                   inapplicable(kind, OrderStatus.IN_FULFILLMENT) or "", entry.at)
                  for kind in _superseded_from(source)),
            ]
            # a reservation in parts under way or left behind (its claim on the header) is
            # finished in parts: its parts are released there (a condition costs no write unit)
            actions[0]["Update"]["ConditionExpression"] += " AND attribute_not_exists(reserving_by)"
            codes = transact(self, actions, f"reserving order {order_id}")
            if not codes or codes[0] != "ConditionalCheckFailed":
                break
            header = codes.old_item(0)
            if header.get("reserving_by"):
                return self._in_parts().reserve(order_id, execution_id, allocations, entry, shipments,
                                                requested, ship_to, shipping_method)
            if source == OrderStatus.CAPTURED and header.get("status") == OrderStatus.BACKORDERED.value:
                source = OrderStatus.BACKORDERED  # stock arrived for a backordered order
                continue
            return self._already(order_id, execution_id, RESERVED_OR_LATER, header)
        if "ConditionalCheckFailed" in codes[1:1 + len(per_stock)]:
            raise StockMoved(f"stock moved since the plan of order {order_id}: {codes}")
        if codes:  # a shipment that exists already: only a repeat writes the same ids
            return self._already(order_id, execution_id, RESERVED_OR_LATER)
        return True, OrderStatus.IN_FULFILLMENT.value

    def _in_parts(self) -> ChunkedReserve:
        from .chunked_reserve import ChunkedReserve  # large orders only: not on every cold start

        return ChunkedReserve(self, RESERVED_OR_LATER, _superseded_from)

    def backorder(self, order_id: str, execution_id: str, entry: TimelineEntry,
                  wanted: dict[str, int] | None = None) -> tuple[bool, str]:
        """CAPTURED -> BACKORDERED (``backordered_at`` on the header), with one waiting entry per
        SKU of the order in the SKU's partition, at once: a repeat, a duplicate execution or a
        restock's re-run that found no plan either (the order is BACKORDERED already) is
        refused by the header's condition and writes no second entry."""
        # imported here: only the Backorder task writes waiting entries (Reserve never loads them)
        from functions.core.adapters.waiting_backorders import waiting_puts

        actions = [self._header_update(order_id, execution_id, entry, OrderStatus.BACKORDERED,
                                       {"backordered_at": entry.at}),
                   *waiting_puts(self.table, order_id, entry.at, wanted or {})]
        codes = transact(self, actions, f"backordering order {order_id}")
        if codes:
            return self._already(order_id, execution_id, frozenset({OrderStatus.BACKORDERED}))
        return True, OrderStatus.BACKORDERED.value

    def _already(self, order_id: str, execution_id: str, done: frozenset[OrderStatus],
                 header: dict[str, Any] | None = None) -> tuple[bool, str]:
        """The header condition failed: this execution did it before (a repeat), or the order
        moved on (cancelled, or another execution owns it) and nothing may change. ``header``:
        as the refused condition returned it (else read)."""
        header = header or self._header(order_id)
        status = header.get("status", "MISSING")
        mine = header.get("accepted_by") == execution_id
        return (mine and status in done), status
