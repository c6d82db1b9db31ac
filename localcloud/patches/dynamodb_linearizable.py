"""Make moto's DynamoDB linearizable: one lock around each DynamoDB API action.

moto 5.2.5 evaluates a ``ConditionExpression`` and applies the write in separate Python steps
without a lock, so concurrent conditional writes interleave: 8 threads doing conditional
decrements of a stock of 100 sold more than 100 units and drove it negative (the regression
test shows it). On AWS every single-item write (and each transaction) is atomic. Holding one
re-entrant lock for the whole action restores that; DynamoDB calls are sub-millisecond here, so
serialising them costs nothing measurable.
"""

from __future__ import annotations

import threading

from moto.core.responses import TYPE_RESPONSE
from moto.dynamodb.responses import DynamoHandler

LOCK = threading.RLock()
"""Held for the duration of every DynamoDB action (the stream poller reads under it too)."""

_ORIGINAL = DynamoHandler.call_action


def _call_action(self: DynamoHandler) -> TYPE_RESPONSE:
    with LOCK:
        return _ORIGINAL(self)


def install() -> None:
    DynamoHandler.call_action = _call_action  # type: ignore[method-assign]


def uninstall() -> None:
    DynamoHandler.call_action = _ORIGINAL  # type: ignore[method-assign]
