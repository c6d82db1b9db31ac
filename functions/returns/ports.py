"""What the returns use cases need from the outside world."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from functions.core.orders import TimelineEntry
from functions.core.ports import OrderReader
from functions.core.returns import Return

__all__ = ["ChannelSettings", "LedgerMoved", "OrderReader", "ReturnMoved", "ReturnNode", "ReturnNodes",
           "ReturnStore"]


@dataclass(frozen=True)
class ChannelSettings:
    channel: str
    return_window_days: int = 30
    updated_at: str | None = None


@dataclass(frozen=True)
class ReturnNode:
    """A node as a return's destination is chosen from it."""

    node_id: str
    country: str
    priority: int
    active: bool
    accepts_returns: bool
    address: dict[str, Any] = field(default_factory=dict)


class LedgerMoved(Exception):
    """The order's return ledger is not as read: another return was authorised (or a line's units
    would go beyond what was dispatched). Nothing was written; read the order again."""


class ReturnMoved(Exception):
    """The return is not at the version read: another receipt or an agent's decision came first.
    Nothing was written; read it again."""


class ReturnNodes(Protocol):
    def nodes(self) -> list[ReturnNode]:
        """Every node of the network, as of this moment."""
        ...


class ReturnStore(Protocol):
    def authorize(self, ret: Return, *, returns_before: int, returning: dict[str, int],
                  entry: TimelineEntry, ledger_version: int = 0) -> None:
        """Write the return and the order's ledger (``returning``, the units per line as read,
        plus the return's) in one conditional write: only if the order still has
        ``returns_before`` returns and its ledger is at ``ledger_version`` — nothing was
        authorised, rejected or closed since it was read. Else ``LedgerMoved`` and nothing
        written."""
        ...

    def end(self, *, before: Return, after: Return, ledger_version: int, returning: dict[str, int],
            entry: TimelineEntry) -> None:
        """Write the return as ``after`` (rejected or closed) and the ledger's lines as
        ``returning`` in one write: only if the return is at ``before``'s version (else
        ``ReturnMoved``) and the ledger at ``ledger_version`` (else ``LedgerMoved``)."""
        ...

    def settings(self, channel: str) -> ChannelSettings: ...

    def put_settings(self, settings: ChannelSettings) -> None: ...

    def listing(self, node_id: str, status: str, *, limit: int, token: str | None
                ) -> tuple[list[dict[str, Any]], str | None]:
        """The returns in ``status`` coming to ``node_id``, oldest first (their views)."""
        ...

    def receive(self, *, before: Return, after: Return, restock: dict[str, int], entry: TimelineEntry) -> None:
        """Write the return as ``after`` (its receipt added) and put ``restock`` (units per SKU)
        back into the return's node's stock, in one write conditional on the return still being
        at ``before``'s version; else ``ReturnMoved`` and nothing written."""
        ...
