"""What the capture use cases need from the outside world."""

from __future__ import annotations

from typing import Any, Protocol

from functions.core.orders import IdempotencyClaim, Order, TimelineEntry


class OrderStore(Protocol):
    def create(self, order: Order, first_event: TimelineEntry, *, credit_limit_check: bool = False,
               idempotency: IdempotencyClaim | None = None) -> None: ...
    def get(self, order_id: str) -> Order | None: ...
    def cancel(self, order: Order, entry: TimelineEntry, reason: str,
               released: TimelineEntry | None) -> Order: ...
    def list_page(self, index: str, partition: str, *, limit: int, token: str | None
                  ) -> tuple[list[dict[str, Any]], str | None]: ...


class WorkflowStarter(Protocol):
    def start(self, name: str, payload: dict[str, Any]) -> str: ...
