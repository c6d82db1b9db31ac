"""Composition root of the route capability (built per settings, on first use).

The Plan task runs on every order: it imports only what planning needs. Fulfilment (dispatch)
and node management are imported inside their factories, so a Plan cold start does not load
them (tests/unit/test_plan_task.py checks it in a fresh interpreter)."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from functions.core.adapters.node_network import NetworkReader
from functions.core.adapters.order_reader import OrderTableReader
from functions.core.adapters.stock import StockReader
from functions.core.settings import Settings, settings

from .adapters.node_cache import CachedNodes
from .planning import PlanService

if TYPE_CHECKING:
    from .fulfilment import FulfilmentService
    from .nodes import NodeService


def plan_service() -> PlanService:
    return _plan_service(settings())


def fulfilment_service() -> FulfilmentService:
    return _fulfilment_service(settings())


def node_service(table_name: str | None = None) -> NodeService:
    """Node management of this function's table, or of ``table_name`` (the ``oms`` command line
    and the local seed, which know a stack by its outputs)."""
    return _node_service(table_name or settings().table_name)


@cache
def _plan_service(s: Settings) -> PlanService:
    return PlanService(orders=OrderTableReader(s.table_name),
                       stock=CachedNodes(StockReader(s.table_name), NetworkReader(s.table_name)))


@cache
def _fulfilment_service(s: Settings) -> FulfilmentService:
    from .adapters.shipment_table import ShipmentTable
    from .fulfilment import FulfilmentService

    return FulfilmentService(orders=OrderTableReader(s.table_name), store=ShipmentTable(s.table_name))


@cache
def _node_service(table_name: str) -> NodeService:
    from .adapters.node_table import NodeTable
    from .nodes import NodeService

    return NodeService(store=NodeTable(table_name))
