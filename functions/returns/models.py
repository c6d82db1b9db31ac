"""API shapes of the returns capability (API.md "Returns"), mapped to the use cases' commands here.
The entity lives in ``functions.core.returns``; item shapes in ``adapters/return_table.py``."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from functions.core.returns import ExchangeLine, ReceiptCondition, ReceivedLine, ReturnOutcome, ReturnReason

from .authorizing import RequestedLine, ReturnRequest
from .receiving import ReceiptRequest

#: A return names at most as many lines as an order may have.
MAX_LINES = 250

Sku = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64,
                                       pattern=r"^[A-Za-z0-9][A-Za-z0-9._\-/]*$")]
Units = Annotated[int, Field(strict=True, ge=1, le=10_000)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ReturnLineIn(_Strict):
    line_id: Annotated[str, StringConstraints(min_length=1, max_length=8)]
    quantity: Units
    reason: Literal["DAMAGED", "DEFECTIVE", "WRONG_ITEM", "NOT_AS_DESCRIBED", "CHANGED_MIND", "OTHER"]


class ExchangeLineIn(_Strict):
    sku: Sku
    quantity: Units


class ReturnIn(_Strict):
    """Body of ``POST /orders/{order_id}/returns``."""

    lines: list[ReturnLineIn] = Field(min_length=1, max_length=MAX_LINES)
    outcome: Literal["REFUND", "EXCHANGE"] = "REFUND"
    exchange_lines: list[ExchangeLineIn] | None = Field(default=None, max_length=MAX_LINES)

    def to_command(self) -> ReturnRequest:
        return ReturnRequest(
            lines=tuple(RequestedLine(ln.line_id, ln.quantity, ReturnReason(ln.reason)) for ln in self.lines),
            outcome=ReturnOutcome(self.outcome),
            exchange_lines=None if self.exchange_lines is None else tuple(
                ExchangeLine(e.sku, e.quantity) for e in self.exchange_lines))


class ReceivedLineIn(_Strict):
    line_id: Annotated[str, StringConstraints(min_length=1, max_length=8)]
    quantity: Units
    condition: Literal["RESELLABLE", "DAMAGED"]


class ReceiptIn(_Strict):
    """Body of ``POST /returns/{return_id}/receive``: what one delivery held. ``receipt_id`` is
    the node's own reference for it: the same again changes nothing."""

    receipt_id: Annotated[str, StringConstraints(min_length=1, max_length=64,
                                                 pattern=r"^[A-Za-z0-9][A-Za-z0-9._:\-/]*$")]
    lines: list[ReceivedLineIn] = Field(min_length=1, max_length=MAX_LINES)

    def to_command(self) -> ReceiptRequest:
        return ReceiptRequest(receipt_id=self.receipt_id, lines=tuple(
            ReceivedLine(ln.line_id, ln.quantity, ReceiptCondition(ln.condition)) for ln in self.lines))


class DecisionIn(_Strict):
    """Body of ``POST /returns/{return_id}/reject`` and ``/close``: why (on the order's timeline)."""

    reason: Annotated[str, StringConstraints(min_length=1, max_length=500, strip_whitespace=True)]


class ReturnLineOut(BaseModel):
    line_id: str
    sku: str
    quantity: int
    reason: str
    received: int = 0


class ReturnToOut(BaseModel):
    node_id: str
    address: dict[str, object]


class ExchangeLineOut(BaseModel):
    sku: str
    quantity: int


class ReceivedLineOut(BaseModel):
    line_id: str
    quantity: int
    condition: str


class ReceiptOut(BaseModel):
    receipt_id: str
    received_at: str
    lines: list[ReceivedLineOut]


class ReturnOut(BaseModel):
    return_id: str
    rma_number: str
    order_id: str
    channel: str
    status: str
    outcome: str
    lines: list[ReturnLineOut]
    return_to: ReturnToOut
    exchange_lines: list[ExchangeLineOut] = []
    exchange_order_id: str | None = None
    receipts: list[ReceiptOut] = []
    created_at: str
    updated_at: str


class ReturnListOut(BaseModel):
    returns: list[ReturnOut]
    next_token: str | None = None


class ChannelSettingsIn(_Strict):
    """Body of ``PUT /channels/{channel}/settings``: the whole settings (absent: the default)."""

    return_window_days: Annotated[int, Field(strict=True, ge=0, le=365)] = 30


class ChannelSettingsOut(BaseModel):
    channel: str
    return_window_days: int
    updated_at: str | None = None
