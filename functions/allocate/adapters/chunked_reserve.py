"""Reserve of an order too large for one transaction (more than ``MAX_STOCK_RECORDS_PER_ORDER``
stock records): in parts, each its own transaction and idempotent by its marker
(``core/adapters/reservation_parts.py``), with the order's status changing only in the last.

1. **Claim**: the header gets ``reserving_by = <execution>`` on the same condition Reserve's
   transition has (a status it may move from, ``accepted_by`` absent or this execution). The
   newest execution to claim holds the order: every later write of an older one is refused.
2. **Read the parts** under the order (one consistent Query). Parts of another execution (one
   that lost the claim or died) are released, each with a check that this execution still
   holds the claim; a part of this execution written by an older plan is released too; one
   written by this very plan is kept (a retry).
3. **Reserve each part**: marker put + ``reserve_action`` per record + the header's version
   moved (so a cancel that read the order before cannot commit without seeing the part), on
   the claim's condition and ``reserving_by`` = this execution.
4. **The transition**: header → IN_FULFILLMENT with ``reserved_parts`` (the plan stays in the
   parts, not on the header every later write rewrites) and ``OrderAllocated``, the shipment
   puts and notice marks, on the same conditions; ``reserving_by`` removed.

Compensation: a part refused for stock (StockMoved) releases the parts reserved so far, then
raises StockMoved (the workflow plans again); refused for the header (a cancel, another
execution's claim, a Backorder) it releases them and answers as the single-transaction path
does (``_already``). Each release is conditional on its marker, so a part is given back once
even when the cancel, the execution that took over and this one's compensation race for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from functions.allocate.ports import PlanTooLarge, StockMoved
from functions.core.adapters.dynamodb import from_item, to_item, to_value, transact
from functions.core.adapters.keys import order_pk, reservation_parts_prefix
from functions.core.adapters.notice_marks import supersede_action
from functions.core.adapters.reservation_parts import (
    TRANSACTION_ACTIONS,
    only_used,
    part_from_item,
    plan_parts,
    put_part_action,
    records_of,
    release_part_actions,
    same_part,
)
from functions.core.adapters.shipments import shipment_item
from functions.core.adapters.stock import reserve_action
from functions.core.adapters.timeline import with_entries
from functions.core.errors import TransientError
from functions.core.notices import inapplicable
from functions.core.orders import OrderStatus, PartStatus, ReservationPart, Shipment, TimelineEntry
from functions.core.sourcing import Allocation

_HOLDS_CLAIM = " AND reserving_by = :exec"


@dataclass
class ChunkedReserve:
    #: the ``ReservationTable`` (its header write, conditions and answers are shared)
    table: Any
    #: where a reserved order can be when a retry arrives (``reservation_table.RESERVED_OR_LATER``)
    reserved_or_later: frozenset[OrderStatus]
    #: the notices an allocation from a status makes inapplicable (``reservation_table``)
    superseded_from: Callable[[OrderStatus], tuple[str, ...]]

    @property
    def name(self) -> str:
        name: str = self.table.table
        return name

    def reserve(self, order_id: str, execution_id: str, allocations: list[Allocation], entry: TimelineEntry,
                shipments: list[Shipment], requested: list[TimelineEntry], ship_to: dict[str, Any],
                shipping_method: str) -> tuple[bool, str]:
        parts = plan_parts(execution_id, allocations)
        if 1 + len(shipments) + len(self.superseded_from(OrderStatus.BACKORDERED)) > TRANSACTION_ACTIONS:
            raise PlanTooLarge(f"{len(shipments)} shipments: more than one transaction can request")
        source = self._claim(order_id, execution_id, entry)
        if isinstance(source, tuple):
            return source  # refused: a repeat, or the order moved on
        done = self._clear(order_id, execution_id, entry, source, parts)
        if done is None:
            return self._overtaken(order_id, execution_id, [])
        for part in parts:
            if any(same_part(part, d) for d in done):
                continue  # reserved by this plan before (a retry)
            actions = [put_part_action(self.name, order_id, part),
                       *(reserve_action(self.name, a) for a in records_of(part)),
                       self._guarded(order_id, execution_id, entry, source,
                                     "SET #v = #v + :one", update=True)]
            codes = transact(self.table, actions, f"reserving part {part.number} of order {order_id}")
            if not codes:
                done.append(part)
                continue
            if codes[-1] == "ConditionalCheckFailed":
                return self._overtaken(order_id, execution_id, done, codes.old_item(len(actions) - 1))
            if "ConditionalCheckFailed" in codes[1:-1]:
                self._release(order_id, done)
                raise StockMoved(f"stock moved since the plan of order {order_id} (part {part.number}): {codes}")
            # the marker exists, not as this plan wrote it: a concurrent run of this execution
            raise TransientError(f"part {part.number} of order {order_id} was written concurrently: {codes}")
        header = self.table._header_update(order_id, execution_id, entry, OrderStatus.IN_FULFILLMENT,
                                           {"reserved_parts": len(parts)}, source)
        header["Update"]["ConditionExpression"] += _HOLDS_CLAIM
        header["Update"]["UpdateExpression"] += " REMOVE reserving_by"
        actions = [header,
                   *({"Put": {"TableName": self.name, "ConditionExpression": "attribute_not_exists(PK)",
                              "Item": to_item(with_entries(shipment_item(s, ship_to, shipping_method),
                                                           [e for e in requested
                                                            if e.detail.get("shipment_id") == s.shipment_id]))}}
                     for s in shipments),
                   *(supersede_action(self.name, order_id, kind,
                                      inapplicable(kind, OrderStatus.IN_FULFILLMENT) or "", entry.at)
                     for kind in self.superseded_from(source))]
        codes = transact(self.table, actions, f"reserving order {order_id}")
        if not codes:
            return True, OrderStatus.IN_FULFILLMENT.value
        if codes[0] == "ConditionalCheckFailed":
            return self._overtaken(order_id, execution_id, done, codes.old_item(0))
        self._release(order_id, done)  # a shipment exists that this plan did not write
        repeat: tuple[bool, str] = self.table._already(order_id, execution_id, self.reserved_or_later)
        return repeat

    # -- the steps ---------------------------------------------------------------------------
    def _guarded(self, order_id: str, execution_id: str, entry: TimelineEntry, source: OrderStatus,
                 update_expression: str = "", *, update: bool, holds: bool = True) -> dict[str, Any]:
        """A header item on the condition of Reserve's own transition from ``source`` (built
        by ``ReservationTable._header_update``, so the two never drift apart), and — ``holds``
        — that this execution holds the claim; an update (``update_expression``) or a check."""
        body = dict(self.table._header_update(order_id, execution_id, entry, OrderStatus.IN_FULFILLMENT,
                                              None, source)["Update"])
        body["ConditionExpression"] = body["ConditionExpression"] + (_HOLDS_CLAIM if holds else "")
        body.pop("UpdateExpression")
        if update:
            body["UpdateExpression"] = update_expression
            return {"Update": only_used(body)}
        body.pop("ReturnValuesOnConditionCheckFailure", None)
        return {"ConditionCheck": only_used(body)}

    def _claim(self, order_id: str, execution_id: str, entry: TimelineEntry
               ) -> OrderStatus | tuple[bool, str]:
        """The status the order is reserved from, once this execution holds it; else the answer."""
        source = OrderStatus.CAPTURED
        while True:
            claim = self._guarded(order_id, execution_id, entry, source, "SET reserving_by = :exec",
                                  update=True, holds=False)
            codes = transact(self.table, [claim], f"claiming order {order_id} for a reservation in parts")
            if not codes:
                return source
            header = codes.old_item(0)
            if (source == OrderStatus.CAPTURED and header.get("status") == OrderStatus.BACKORDERED.value
                    and header.get("accepted_by") in (None, execution_id)):
                source = OrderStatus.BACKORDERED
                continue
            refused: tuple[bool, str] = self.table._already(order_id, execution_id, self.reserved_or_later, header)
            return refused

    def _clear(self, order_id: str, execution_id: str, entry: TimelineEntry, source: OrderStatus,
               parts: list[ReservationPart]) -> list[ReservationPart] | None:
        """Release every part under the order but this plan's own (returned): another
        execution's (it can no longer write: this one holds the claim, which each release
        checks) and this execution's from an older plan. None: the claim was lost meanwhile."""
        kept: list[ReservationPart] = []
        for found in self.parts(order_id):
            if found.status == PartStatus.RESERVED and any(same_part(found, p) for p in parts):
                kept.append(found)
                continue
            if found.status != PartStatus.RESERVED:
                continue  # shipped stock is the dispatch's; never here before the transition
            check = self._guarded(order_id, execution_id, entry, source, update=False)
            codes = transact(self.table, [check, *release_part_actions(self.name, order_id, found)],
                             f"releasing part {found.number} of {found.execution_id} for order {order_id}")
            if codes and codes[0] == "ConditionalCheckFailed":
                return None  # another execution claimed the order since
        return kept

    def _overtaken(self, order_id: str, execution_id: str, done: list[ReservationPart],
                   header: dict[str, Any] | None = None) -> tuple[bool, str]:
        """The header refused a write: give back what this execution reserved (unless the order
        is in fulfilment as this execution's, a repeat) and answer as the one-transaction path."""
        answer: tuple[bool, str] = self.table._already(order_id, execution_id, self.reserved_or_later, header)
        if not answer[0]:
            self._release(order_id, done or [p for p in self.parts(order_id) if p.execution_id == execution_id])
        return answer

    def _release(self, order_id: str, parts: list[ReservationPart]) -> None:
        """Compensation: each part given back once (a refused release was released already)."""
        for part in parts:
            transact(self.table, release_part_actions(self.name, order_id, part),
                     f"releasing part {part.number} of order {order_id}")

    def parts(self, order_id: str) -> list[ReservationPart]:
        """Every reservation part under the order (consistent)."""
        kwargs: dict[str, Any] = {
            "TableName": self.name, "ConsistentRead": True,
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :parts)",
            "ExpressionAttributeValues": {":pk": to_value(order_pk(order_id)),
                                          ":parts": to_value(reservation_parts_prefix())}}
        found: list[ReservationPart] = []
        while True:
            page = self.table.db.query(**kwargs)
            found += [part_from_item(from_item(i)) for i in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return found
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

