"""Composition root of the route capability."""

from __future__ import annotations

from functools import cache

from functions.core.adapters.order_table import OrderTable
from functions.core.adapters.stock import CachedNodes, StockReader
from functions.core.settings import Settings, settings

from .adapters.shipment_table import ShipmentTable
from .logic import FulfilmentService, PlanService


def plan_service() -> PlanService:
    return _plan_service(settings())


def fulfilment_service() -> FulfilmentService:
    return _fulfilment_service(settings())


@cache
def _plan_service(s: Settings) -> PlanService:
    return PlanService(orders=OrderTable(s.table_name), stock=CachedNodes(StockReader(s.table_name)))


@cache
def _fulfilment_service(s: Settings) -> FulfilmentService:
    return FulfilmentService(orders=OrderTable(s.table_name), store=ShipmentTable(s.table_name))
