"""Interfaces that use cases of two or more capabilities depend on; adapters implement them.
A capability's own ports live in its ``ports.py`` (which re-exports these where it needs them)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from .events import DomainEvent
from .orders import Order


class EventPublisher(Protocol):
    def publish(self, events: Sequence[DomainEvent]) -> None: ...


class OrderReader(Protocol):
    """The order with everything under it (shipments, invoices, reviews, timeline), or None."""

    def get(self, order_id: str) -> Order | None: ...
