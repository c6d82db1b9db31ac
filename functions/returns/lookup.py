"""A return found by its id (``ret_<order ulid>-<n>`` names its order: one read, no index).
Shared by the returns use cases; each decides who may see what it finds."""

from __future__ import annotations

from functions.core.orders import Order
from functions.core.returns import Return, order_id_of_return
from functions.returns.ports import OrderReader


def find_return(orders: OrderReader, return_id: str) -> tuple[Order | None, Return | None]:
    order_id = order_id_of_return(return_id)
    order = orders.get(order_id) if order_id else None
    ret = next((r for r in order.returns if r.return_id == return_id), None) if order else None
    return order, ret
