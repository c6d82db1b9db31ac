"""What the notify use cases need from the outside world."""

from __future__ import annotations

from typing import Any, Protocol

from functions.core.orders import TimelineEntry
from functions.core.ports import OrderReader

__all__ = ["Mailer", "NoticeStore", "OrderReader", "Texter"]


class NoticeStore(Protocol):
    def claim(self, order_id: str, notice_id: str, kind: str, channels: dict[str, dict[str, Any]]) -> set[str]: ...
    def record(self, order_id: str, notice_id: str, results: dict[str, tuple[str, str | None]],
               entries: list[TimelineEntry]) -> None: ...


class Mailer(Protocol):
    def send(self, *, sender: str, to: str, subject: str, text: str, html: str, tags: dict[str, str]) -> str: ...


class Texter(Protocol):
    def send(self, *, to: str, text: str, tags: dict[str, str]) -> str: ...
