"""Partition keys shared by the item shapes of the single table."""

from __future__ import annotations


def order_pk(order_id: str) -> str:
    return f"ORDER#{order_id}"
