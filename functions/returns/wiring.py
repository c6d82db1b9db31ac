"""Composition root of the returns capability (built per settings, on first use)."""

from __future__ import annotations

from functools import cache

from functions.core.adapters.order_reader import OrderTableReader
from functions.core.settings import Settings, settings

from .adapters.return_table import ReturnNodeReader, ReturnTable
from .authorizing import ReturnService
from .closing import ClosingService
from .receiving import ReceivingService


def return_service() -> ReturnService:
    return _return_service(settings())


@cache
def _return_service(s: Settings) -> ReturnService:
    return ReturnService(orders=OrderTableReader(s.table_name), store=ReturnTable(s.table_name),
                         nodes=ReturnNodeReader(s.table_name))


def closing_service() -> ClosingService:
    return _closing_service(settings())


@cache
def _closing_service(s: Settings) -> ClosingService:
    return ClosingService(orders=OrderTableReader(s.table_name), store=ReturnTable(s.table_name))


def receiving_service() -> ReceivingService:
    return _receiving_service(settings())


@cache
def _receiving_service(s: Settings) -> ReceivingService:
    return ReceivingService(orders=OrderTableReader(s.table_name), store=ReturnTable(s.table_name))
