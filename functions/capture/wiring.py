"""Composition root of the capture capability: use cases wired to their AWS adapters, built once
per container (per settings) on first use, never at import time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import cache
from typing import TYPE_CHECKING

from functions.core.adapters.event_bus import EventBridgePublisher
from functions.core.adapters.workflows import StepFunctionsStarter
from functions.core.settings import Settings, settings
from functions.core.taxes import legal_entity

from .adapters.order_table import OrderTable
from .cancellation import Cancellation
from .capturing import CaptureService
from .queries import OrderQueries
from .workflow_start import WorkflowService

if TYPE_CHECKING:
    from .exchanging import ExchangeService
    from .feeds import FeedIntake
    from .ports import VatRegistry
    from .restocks import RestockService
    from .resumes import Resumes


def capture_service() -> CaptureService:
    return _capture_service(settings())


def feed_intake() -> FeedIntake:
    return _feed_intake(settings())


def order_queries() -> OrderQueries:
    return _order_queries(settings())


def cancellation() -> Cancellation:
    return _cancellation(settings())


def workflow_service() -> WorkflowService:
    return _workflow_service(settings())


def restock_service(time_left: Callable[[], float]) -> RestockService:
    """The restock use case, counting the time left of this invocation."""
    return replace(_restock_service(settings()), time_left=time_left)


def exchange_service() -> ExchangeService:
    return _exchange_service(settings())


@cache
def _exchange_service(s: Settings) -> ExchangeService:
    # imported here: only the exchange task loads the return's writes
    from .adapters.exchange_links import ExchangeLinkTable
    from .exchanging import ExchangeService

    return ExchangeService(orders=_table(s), capture=_capture_service(s), links=ExchangeLinkTable(s.table_name))


def resumes() -> Resumes:
    return _resumes(settings())


@cache
def _table(s: Settings) -> OrderTable:
    return OrderTable(s.table_name, open_for=s.reconcile_after_seconds)


@cache
def _capture_service(s: Settings) -> CaptureService:
    return CaptureService(store=_table(s), legal_entity=legal_entity(s.legal_entity) if s.legal_entity else None,
                          vat_registry=_vat_registry(s.vat_registry))


@cache
def _vat_registry(name: str) -> VatRegistry:
    # imported here: most orders carry no VAT number, and the registry is asked only for one
    if name == "local":
        from .adapters.local_vies import LocalVies

        return LocalVies()
    if name == "vies":
        from .adapters.vies import ViesRegistry

        return ViesRegistry()
    raise ValueError(f"VAT_REGISTRY {name!r} is not one of local, vies")


@cache
def _feed_intake(s: Settings) -> FeedIntake:
    # imported here: the API function, which shares this root, never loads the feed's modules
    from .adapters.dead_letter_queue import SqsDeadLetterQueue
    from .feeds import FeedIntake

    return FeedIntake(capture=_capture_service(s), dead_letter_queue=SqsDeadLetterQueue())


@cache
def _order_queries(s: Settings) -> OrderQueries:
    return OrderQueries(store=_table(s))


@cache
def _cancellation(s: Settings) -> Cancellation:
    return Cancellation(store=_table(s))


@cache
def _workflow_service(s: Settings) -> WorkflowService:
    return WorkflowService(starter=StepFunctionsStarter(s.order_workflow_arn),
                           publisher=EventBridgePublisher(s.event_bus_name))


@cache
def _restock_service(s: Settings) -> RestockService:
    from functions.core.adapters.waiting_backorders import WaitingBackorders

    from .restocks import RestockService

    return RestockService(waiting=WaitingBackorders(s.table_name), workflow=StepFunctionsStarter(s.order_workflow_arn))


def _resumes(s: Settings) -> Resumes:
    # imported here: only the resume route loads them (not the capture paths' cold start)
    from .adapters.reconciler_function import ReconcilerFunction
    from .resumes import Resumes

    return Resumes(resumer=ReconcilerFunction(s.reconcile_function_name))
