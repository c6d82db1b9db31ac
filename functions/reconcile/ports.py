"""What the reconciler's use case needs from the outside world."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from functions.core.ports import OrderReader

__all__ = ["Due", "NoticeSender", "OpenOrders", "OrderReader", "WorkflowStarter"]


@dataclass(frozen=True)
class Due:
    """An open order whose check is due, as the open orders' index holds it."""

    order_id: str
    #: When it was due (what the index holds): the postponement is conditional on it.
    check_after: str


class OpenOrders(Protocol):
    """The orders not final yet (captured, not COMPLETED nor CANCELLED), by when each is due."""

    def due(self, shard: int, now: str, limit: int) -> list[Due]:
        """Up to ``limit`` orders of one shard due at ``now``, the longest due first."""
        ...

    def shards(self) -> range: ...

    def postpone(self, due: Due, check_after: str) -> bool:
        """Due again at ``check_after``, if it is still due as found (False: it moved or closed)."""
        ...

    def close(self, due: Due) -> bool:
        """Off the index: an order found final that still had its entry (never on the happy path)."""
        ...


class WorkflowStarter(Protocol):
    def start(self, name: str, payload: dict[str, Any]) -> str: ...


class NoticeSender(Protocol):
    def send(self, order_id: str, kind: str, ref: str | None) -> None:
        """Ask notify to (re)send a notice; its claim decides whether anything is sent."""
        ...
