"""The return as the order carries it: the entity, its statuses and its view (API.md "Returns").
The rules that authorise and receive one live with the returns capability
(``functions/returns/``); capture shows an order's returns in its view, so they are here."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class ReturnStatus(StrEnum):
    AUTHORIZED = "AUTHORIZED"
    PARTIALLY_RECEIVED = "PARTIALLY_RECEIVED"
    RECEIVED = "RECEIVED"
    REFUNDED = "REFUNDED"
    EXCHANGED = "EXCHANGED"
    REJECTED = "REJECTED"
    CLOSED = "CLOSED"


class ReturnReason(StrEnum):
    DAMAGED = "DAMAGED"
    DEFECTIVE = "DEFECTIVE"
    WRONG_ITEM = "WRONG_ITEM"
    NOT_AS_DESCRIBED = "NOT_AS_DESCRIBED"
    CHANGED_MIND = "CHANGED_MIND"
    OTHER = "OTHER"


class ReceiptCondition(StrEnum):
    RESELLABLE = "RESELLABLE"  # back to the receiving node's stock
    DAMAGED = "DAMAGED"  # recorded, not restocked (refunded all the same)


class ReturnOutcome(StrEnum):
    REFUND = "REFUND"
    EXCHANGE = "EXCHANGE"


#: Statuses in which goods may still arrive (a node's "returns coming to it").
OPEN_RETURN = frozenset({ReturnStatus.AUTHORIZED, ReturnStatus.PARTIALLY_RECEIVED})


@dataclass(frozen=True)
class ReturnLine:
    line_id: str
    sku: str
    quantity: int
    reason: ReturnReason


@dataclass(frozen=True)
class ExchangeLine:
    sku: str
    quantity: int


@dataclass(frozen=True)
class ReceivedLine:
    line_id: str
    quantity: int
    condition: ReceiptCondition


@dataclass(frozen=True)
class Receipt:
    """What one delivery to the node held (``POST /returns/{id}/receive``): its ``receipt_id``,
    the node's own, makes it once."""

    receipt_id: str
    received_at: str
    lines: tuple[ReceivedLine, ...]

    def units(self, condition: ReceiptCondition | None = None) -> dict[str, int]:
        out: dict[str, int] = {}
        for ln in self.lines:
            if condition is None or ln.condition == condition:
                out[ln.line_id] = out.get(ln.line_id, 0) + ln.quantity
        return out


@dataclass(frozen=True)
class Return:
    return_id: str
    rma_number: str
    order_id: str
    channel: str
    status: ReturnStatus
    outcome: ReturnOutcome
    lines: tuple[ReturnLine, ...]
    #: The node the goods go to and its address (as it was when the return was authorised).
    return_to_node: str
    return_to_address: dict[str, Any]
    created_at: str
    updated_at: str
    version: int = 1
    exchange_lines: tuple[ExchangeLine, ...] = ()
    exchange_order_id: str | None = None
    #: units received per line id (resellable and damaged together)
    received: dict[str, int] = field(default_factory=dict)
    #: the client's ``Idempotency-Key`` (a digest, with the caller) and the request's digest:
    #: the same key again answers this return; with another request, 409
    request_key: str | None = None
    request_digest: str | None = None
    receipts: tuple[Receipt, ...] = ()


def return_id_for(order_id: str, n: int) -> str:
    """``ret_<order ulid>-<n>``: the order's n-th return; derived, so ``GET /returns/{id}`` finds
    its order without an index (as a shipment's id does)."""
    return f"ret_{order_id.removeprefix('ord_')}-{n}"


def order_id_of_return(return_id: str) -> str | None:
    if not return_id.startswith("ret_") or "-" not in return_id:
        return None
    return "ord_" + return_id.removeprefix("ret_").rsplit("-", 1)[0]


def rma_number_for(return_id: str) -> str:
    """What the customer writes on the parcel: the return id without its prefix, upper case
    (unique as the order id is; no counter, no extra write)."""
    return "RMA-" + return_id.removeprefix("ret_").upper()


def return_view(r: Return) -> dict[str, Any]:
    """The return as API.md shows it (``POST /orders/{id}/returns``, ``GET /returns/{id}``, the
    order's ``returns``)."""
    view: dict[str, Any] = {
        "return_id": r.return_id, "rma_number": r.rma_number, "order_id": r.order_id, "channel": r.channel,
        "status": r.status.value, "outcome": r.outcome.value,
        "lines": [{"line_id": ln.line_id, "sku": ln.sku, "quantity": ln.quantity, "reason": ln.reason.value,
                   "received": r.received.get(ln.line_id, 0)} for ln in r.lines],
        "return_to": {"node_id": r.return_to_node, "address": r.return_to_address},
        "exchange_lines": [{"sku": e.sku, "quantity": e.quantity} for e in r.exchange_lines],
        "exchange_order_id": r.exchange_order_id,
        "receipts": [receipt_view(x) for x in r.receipts],
        "created_at": r.created_at, "updated_at": r.updated_at,
    }
    return view


def receipt_view(x: Receipt) -> dict[str, Any]:
    return {"receipt_id": x.receipt_id, "received_at": x.received_at,
            "lines": [{"line_id": ln.line_id, "quantity": ln.quantity, "condition": ln.condition.value}
                      for ln in x.lines]}
