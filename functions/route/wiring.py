"""Composition root of the route capability (built per settings, on first use)."""

from __future__ import annotations

from functools import cache

from functions.core.adapters.order_reader import OrderTableReader
from functions.core.adapters.stock import StockReader
from functions.core.settings import Settings, settings

from .adapters.node_cache import CachedNodes
from .adapters.shipment_table import ShipmentTable
from .fulfilment import FulfilmentService
from .planning import PlanService


def plan_service() -> PlanService:
    return _plan_service(settings())


def fulfilment_service() -> FulfilmentService:
    return _fulfilment_service(settings())


@cache
def _plan_service(s: Settings) -> PlanService:
    return PlanService(orders=OrderTableReader(s.table_name), stock=CachedNodes(StockReader(s.table_name)))


@cache
def _fulfilment_service(s: Settings) -> FulfilmentService:
    return FulfilmentService(orders=OrderTableReader(s.table_name), store=ShipmentTable(s.table_name))
