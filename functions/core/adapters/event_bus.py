"""EventBridge publisher behind the ``EventPublisher`` port."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from functions.core.errors import TransientError
from functions.core.events import DomainEvent

from .aws import client


class EventBridgePublisher:
    def __init__(self, bus_name: str, events_client: Any = None) -> None:
        self._bus = bus_name
        self._client = events_client

    def publish(self, events: Sequence[DomainEvent]) -> None:
        c = self._client or client("events")
        for start in range(0, len(events), 10):  # PutEvents takes at most 10 entries
            batch = events[start:start + 10]
            result = c.put_events(Entries=[
                {"EventBusName": self._bus, "Source": e.source, "DetailType": e.name,
                 "Detail": json.dumps(e.detail(), default=str)}
                for e in batch
            ])
            if result.get("FailedEntryCount"):
                failed = [entry.get("ErrorCode") for entry in result["Entries"] if entry.get("ErrorCode")]
                raise TransientError(f"EventBridge rejected {len(failed)} events: {failed}")
