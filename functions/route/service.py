"""Composition root of the route capability."""

from __future__ import annotations

from functools import cache

from functions.core.adapters.order_table import OrderTable
from functions.core.adapters.stock import StockReader
from functions.core.settings import Settings, settings

from .logic import PlanService


def plan_service() -> PlanService:
    return _plan_service(settings())


@cache
def _plan_service(s: Settings) -> PlanService:
    return PlanService(orders=OrderTable(s.table_name), stock=StockReader(s.table_name))
