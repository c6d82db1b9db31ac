"""Interfaces that use cases of two or more capabilities depend on; adapters implement them.
A capability's own ports live in its ``ports.py`` (which re-exports these where it needs them)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from .events import DomainEvent
from .orders import Order


class EventPublisher(Protocol):
    def publish(self, events: Sequence[DomainEvent]) -> None: ...


class OrderReader(Protocol):
    """The order with everything under it (shipments, invoices, reviews, timeline), or None."""

    def get(self, order_id: str) -> Order | None: ...


@dataclass(frozen=True)
class WorkflowRun:
    """How an execution run to its end ended: ``status`` SUCCEEDED, FAILED or TIMED_OUT, its
    output (SUCCEEDED) or its error."""

    name: str
    status: str
    output: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


class OrderWorkflow(Protocol):
    """The order's workflow, started again (or the first time) for an order: by the restock
    consumer for a backordered order, by the reconciler and an operator's resume for an order
    left behind. Every task of it is idempotent and the execution's name is new, so a start
    for an order that needs none changes nothing (Plan finds it not plannable)."""

    def start_order(self, order_id: str) -> str:
        """Start a new execution and return its ARN at once."""
        ...

    def run_order(self, order_id: str) -> WorkflowRun:
        """Run a new execution to its end (Express's synchronous start)."""
        ...
