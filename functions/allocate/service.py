"""Composition root of the allocate capability (built per settings, on first use)."""

from __future__ import annotations

from functools import cache

from functions.core.settings import Settings, settings

from .adapters.stock_table import StockTable
from .logic import InventoryService


def inventory_service() -> InventoryService:
    return _inventory_service(settings())


@cache
def _inventory_service(s: Settings) -> InventoryService:
    return InventoryService(store=StockTable(s.table_name))
