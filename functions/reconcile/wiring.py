"""Composition root of the reconciler."""

from __future__ import annotations

from functools import cache

from functions.core.adapters.order_reader import OrderTableReader
from functions.core.adapters.workflows import StepFunctionsStarter
from functions.core.handlers.observability import logger
from functions.core.settings import Settings, settings

from .adapters.notify_function import NotifyFunction
from .adapters.open_order_index import OpenOrderIndex
from .resumption import Reconciler


def reconciler() -> Reconciler:
    return _reconciler(settings())


@cache
def _reconciler(s: Settings) -> Reconciler:
    return Reconciler(orders=OrderTableReader(s.table_name), open_orders=OpenOrderIndex(s.table_name),
                      fulfillment=StepFunctionsStarter(s.order_workflow_arn),
                      invoicing=StepFunctionsStarter(s.invoice_workflow_arn),
                      notices=NotifyFunction(s.notice_function_name), after_seconds=s.reconcile_after_seconds,
                      log=lambda message, extra: logger.info(message, extra=extra))
