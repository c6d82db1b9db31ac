"""Composition root of the returns capability (built per settings, on first use)."""

from __future__ import annotations

from functools import cache

from functions.core.adapters.order_reader import OrderTableReader
from functions.core.settings import Settings, settings

from .adapters.return_table import ReturnNodeReader, ReturnTable
from .authorizing import ReturnService


def return_service() -> ReturnService:
    return _return_service(settings())


@cache
def _return_service(s: Settings) -> ReturnService:
    return ReturnService(orders=OrderTableReader(s.table_name), store=ReturnTable(s.table_name),
                         nodes=ReturnNodeReader(s.table_name))
