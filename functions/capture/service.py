"""Composition root: use cases wired to their AWS adapters, built once per container on
first use (never at import time)."""

from __future__ import annotations

from functools import cache

from functions.core.adapters.events import EventBridgePublisher
from functions.core.adapters.order_table import OrderTable
from functions.core.settings import settings

from .adapters.workflow import OrderWorkflowClaims, StepFunctionsStarter
from .logic import CaptureService, WorkflowService


@cache
def capture_service() -> CaptureService:
    return CaptureService(store=OrderTable(settings().table_name))


@cache
def workflow_service() -> WorkflowService:
    s = settings()
    return WorkflowService(claims=OrderWorkflowClaims(s.table_name),
                           starter=StepFunctionsStarter(s.order_workflow_arn),
                           publisher=EventBridgePublisher(s.event_bus_name))
