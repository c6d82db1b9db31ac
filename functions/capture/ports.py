"""What the capture use cases need from the outside world, and what the store answers with."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from functions.core.orders import Order, TimelineEntry
from functions.core.ports import EventPublisher, OrderReader, OrderWorkflow, WorkflowRun

if TYPE_CHECKING:  # only the restock uses it: capture's other functions never load it
    from functions.core.backorders import Waiting

__all__ = [
    "AlreadyCaptured",
    "CaptureInProgress",
    "CreditCurrencyMismatch",
    "CreditLimitExceeded",
    "DeadLetterQueue",
    "DuplicateChannelOrder",
    "EventPublisher",
    "HeldKey",
    "IdempotencyClaim",
    "InvalidVatNumber",
    "OrderReader",
    "OrderStore",
    "OrderWorkflow",
    "Page",
    "ResumeReport",
    "Resumer",
    "VatCheck",
    "VatRegistry",
    "WaitingOrders",
    "WorkflowRun",
    "WorkflowStarter",
]

#: A page of order summaries (newest first) and the token of the next page, if any.
Page = tuple[list[dict[str, Any]], str | None]


@dataclass(frozen=True)
class IdempotencyClaim:
    """A request's idempotency key, recorded in the same transaction as the order it creates:
    the record can never disagree with the order, and capture stays one round trip."""

    principal: str
    key: str
    #: A hash of the request body: the same key with another body is refused.
    request_hash: str
    #: Epoch seconds after which the key may be used again (the table's TTL removes the record).
    expires_at: int


class DuplicateChannelOrder(Exception):
    """The channel already sent an order with this channel_order_id."""

    def __init__(self, existing_order_id: str | None) -> None:
        super().__init__(existing_order_id)
        self.existing_order_id = existing_order_id


class CreditLimitExceeded(Exception):
    """An on-account order would exceed the customer's available credit (or there is no account)."""


class CreditCurrencyMismatch(Exception):
    """The customer's credit account is kept in another currency than the order's."""

    def __init__(self, account_currency: str) -> None:
        super().__init__(account_currency)
        self.account_currency = account_currency


class AlreadyCaptured(Exception):
    """The idempotency key was used before: for the same request (a replay of ``order_id``) or not."""

    def __init__(self, order_id: str, *, same_request: bool) -> None:
        super().__init__(order_id)
        self.order_id = order_id
        self.same_request = same_request


class CaptureInProgress(Exception):
    """Another request with the same idempotency key is being written at this moment."""


@dataclass(frozen=True)
class HeldKey:
    """What an idempotency record holds: the order the key created and its request's hash."""

    order_id: str
    request_hash: str


class OrderStore(OrderReader, Protocol):
    def create(self, order: Order, first_event: TimelineEntry, *, credit_limit_check: bool = False,
               idempotency: IdempotencyClaim | None = None) -> None:
        """Raises AlreadyCaptured, CaptureInProgress, DuplicateChannelOrder, CreditLimitExceeded,
        CreditCurrencyMismatch."""
        ...

    def held_key(self, principal: str, key: str) -> HeldKey | None:
        """The unexpired idempotency record of (principal, key), read consistently, or None."""
        ...

    def cancel(self, order: Order, entry: TimelineEntry, reason: str,
               released: TimelineEntry | None) -> Order:
        """Raises Conflict when the order changed since it was read."""
        ...

    def release_parts(self, order: Order) -> None:
        """Give back each reservation part of ``order`` (a cancelled large order) still holding
        stock, once; a part released already is left alone."""
        ...

    def channel_orders(self, channel: str, *, limit: int, token: str | None) -> Page: ...
    def customer_orders(self, channel: str, customer_id: str, *, limit: int, token: str | None) -> Page: ...
    def month_orders(self, month: str, *, limit: int, token: str | None) -> Page: ...


class VatCheck(StrEnum):
    """What the VAT registry (VIES) answered for a VAT number whose format and check digits are right."""

    VALID = "valid"  # registered and active: an intra-Community B2B supply may be reverse charged
    NOT_REGISTERED = "not_registered"  # VIES knows no such active number: VAT is charged
    UNAVAILABLE = "unavailable"  # VIES (or the member state's system) could not answer: VAT is charged


class InvalidVatNumber(ValueError):
    """The number is malformed or its check digits are wrong (a 422 naming ``customer.vat_id``)."""


class VatRegistry(Protocol):
    """The EU's VAT Information Exchange System (VIES), or its local stand-in."""

    def check(self, vat_id: str) -> VatCheck:
        """``vat_id`` with its country prefix (``FR40303265045``, Greece ``EL…``), compacted. Raises
        :class:`InvalidVatNumber` for a malformed number; never raises for an unreachable service
        (that is :attr:`VatCheck.UNAVAILABLE`)."""
        ...


class WorkflowStarter(Protocol):
    def start(self, name: str, payload: dict[str, Any]) -> str: ...


class DeadLetterQueue(Protocol):
    def send(self, queue_url: str, bodies: list[dict[str, Any]]) -> None:
        """Put each body (JSON) on the queue as its own message; raises TransientError if any
        was not accepted (the caller's record is then delivered again)."""
        ...


class WaitingOrders(Protocol):
    """Backordered orders waiting for a SKU (``core/adapters/backorders.py``)."""

    def of_sku(self, sku: str) -> tuple[int, list[Waiting]]:
        """The units of ``sku`` available over the network and its waiting orders."""
        ...

    def forget(self, waiting: Waiting) -> None:
        """The order waits no more: its entries for every SKU go (idempotent)."""
        ...

    def restock_seen(self, sku: str, node_id: str, mark: str) -> None:
        """The restock that set ``mark`` on the stock record was handled."""


@dataclass(frozen=True)
class ResumeReport:
    """What the reconciler did for one order: the status it read, whether that is final, the
    steps it started (each ``{"action", "reason", …}``), or why nothing was owed."""

    order_id: str
    status: str
    final: bool
    steps: tuple[dict[str, Any], ...]
    waiting: str | None


class Resumer(Protocol):
    def resume(self, order_id: str) -> ResumeReport | None:
        """Run the steps the order is owed now (the reconciler's own decision); None: no such order.
        Raises TransientError when the reconciler could not be asked."""
        ...
