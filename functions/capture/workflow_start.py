"""Starting a captured order's workflow, and announcing the order. No AWS here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from functions.core.events import DomainEvent, utc_now
from functions.core.ids import order_execution_name

from .ports import EventPublisher, WorkflowStarter

SOURCE = "oms.capture"


@dataclass
class WorkflowService:
    starter: WorkflowStarter
    publisher: EventPublisher
    clock: Callable[[], str] = utc_now

    def on_order_captured(self, order_id: str, summary: dict[str, Any]) -> str:
        """Start the order's workflow and announce the order.

        At least once, with no write of its own: a redelivered stream record starts a second
        execution, which changes nothing — Reserve and Backorder move the order out of
        CAPTURED with a conditional write that records the execution (``accepted_by``), and
        every later task is conditioned on it, so exactly one execution carries the order.
        ``OrderCaptured`` keeps one event id per order, so subscribers drop a repeat.
        """
        # the name is the token Reserve records (accepted_by): two executions never share it
        arn = self.starter.start(order_execution_name(order_id), {"order_id": order_id})
        self.publisher.publish([DomainEvent(name="OrderCaptured", source=SOURCE, data=summary,
                                            event_id=f"evt_{order_id}_captured", correlation_id=order_id)])
        return arn
