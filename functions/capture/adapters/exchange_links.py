"""The exchange's link on the return: the return moved on to EXCHANGED, naming its replacement,
with the shared conditional return write (``core/adapters/return_writes.py``)."""

from __future__ import annotations

from functions.capture.exchanging import ReturnMoved
from functions.core.adapters.dynamodb import TableAdapter, transact
from functions.core.adapters.return_writes import return_update
from functions.core.orders import TimelineEntry
from functions.core.returns import Return


class ExchangeLinkTable(TableAdapter):
    def link(self, before: Return, after: Return, entry: TimelineEntry) -> None:
        if transact(self, [return_update(self.table, before, after, entry)], f"linking {after.return_id}",
                    conflicts_refuse=True):
            raise ReturnMoved(after.return_id)
