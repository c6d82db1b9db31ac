"""Composition root of the notify capability."""

from __future__ import annotations

from functools import cache

from functions.core.adapters.order_reader import OrderTableReader
from functions.core.settings import Settings, settings

from .adapters.notice_table import NoticeTable
from .adapters.senders import SesMailer, SnsTexter
from .notices import NoticeService


def notice_service() -> NoticeService:
    return _notice_service(settings())


@cache
def _notice_service(s: Settings) -> NoticeService:
    return NoticeService(orders=OrderTableReader(s.table_name),
                         store=NoticeTable(s.table_name, lease_seconds=s.notice_lease_seconds), mailer=SesMailer(),
                         texter=SnsTexter(), sender=s.notice_sender)
