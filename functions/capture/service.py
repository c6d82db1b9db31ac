"""Composition root: use cases wired to their AWS adapters, built once per container on
first use (never at import time)."""

from __future__ import annotations

from functools import cache

from functions.core.adapters.events import EventBridgePublisher
from functions.core.adapters.order_table import OrderTable
from functions.core.adapters.workflows import StepFunctionsStarter
from functions.core.settings import Settings, settings

from .logic import CaptureService, WorkflowService


def capture_service() -> CaptureService:
    return _capture_service(settings())


def workflow_service() -> WorkflowService:
    return _workflow_service(settings())


@cache
def _capture_service(s: Settings) -> CaptureService:
    return CaptureService(store=OrderTable(s.table_name))


@cache
def _workflow_service(s: Settings) -> WorkflowService:
    return WorkflowService(starter=StepFunctionsStarter(s.order_workflow_arn),
                           publisher=EventBridgePublisher(s.event_bus_name))
