"""Composition root of the route capability (built per settings, on first use)."""

from __future__ import annotations

from functools import cache

from functions.core.adapters.node_network import NetworkReader
from functions.core.adapters.order_reader import OrderTableReader
from functions.core.adapters.stock import StockReader
from functions.core.settings import Settings, settings

from .adapters.node_cache import CachedNodes
from .adapters.node_table import NodeTable
from .adapters.shipment_table import ShipmentTable
from .fulfilment import FulfilmentService
from .nodes import NodeService
from .planning import PlanService


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
    network = NetworkReader(s.table_name)
    return PlanService(orders=OrderTableReader(s.table_name), stock=CachedNodes(StockReader(s.table_name), network))


@cache
def _fulfilment_service(s: Settings) -> FulfilmentService:
    return FulfilmentService(orders=OrderTableReader(s.table_name), store=ShipmentTable(s.table_name))


@cache
def _node_service(table_name: str) -> NodeService:
    return NodeService(store=NodeTable(table_name))
