"""Composition root of the allocate capability (built per settings, on first use)."""

from __future__ import annotations

from functools import cache

from functions.core.settings import Settings, settings

from .adapters.reservation_table import ReservationTable
from .adapters.stock_table import StockTable
from .inventory import InventoryService
from .reservations import ReservationService


def inventory_service() -> InventoryService:
    return _inventory_service(settings())


def reservation_service() -> ReservationService:
    return _reservation_service(settings())


@cache
def _inventory_service(s: Settings) -> InventoryService:
    return InventoryService(store=StockTable(s.table_name))


@cache
def _reservation_service(s: Settings) -> ReservationService:
    return ReservationService(store=ReservationTable(s.table_name))
