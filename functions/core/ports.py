"""Small interfaces the use cases depend on; adapters implement them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from .events import DomainEvent


class EventPublisher(Protocol):
    def publish(self, events: Sequence[DomainEvent]) -> None: ...
