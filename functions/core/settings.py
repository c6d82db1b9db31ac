"""Environment-derived settings, read on first use (never at import: keeps cold starts
lean and tests independent of import order)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache


@dataclass(frozen=True)
class Settings:
    table_name: str
    event_bus_name: str
    order_workflow_arn: str


@cache
def settings() -> Settings:
    return Settings(
        table_name=os.environ["TABLE_NAME"],
        event_bus_name=os.environ.get("EVENT_BUS_NAME", ""),
        order_workflow_arn=os.environ.get("ORDER_WORKFLOW_ARN", ""),
    )
