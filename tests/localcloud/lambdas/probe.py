"""A programmable handler: tests set a behaviour per function name and read the calls back."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

Behaviour = Callable[[Any, Any], Any]

CALLS: list[tuple[str, Any]] = []
BEHAVIOURS: dict[str, Behaviour] = {}
_lock = threading.Lock()


def reset() -> None:
    with _lock:
        CALLS.clear()
        BEHAVIOURS.clear()


def calls(function_name: str) -> list[Any]:
    with _lock:
        return [event for name, event in CALLS if name == function_name]


def lambda_handler(event: Any, context: Any) -> Any:
    with _lock:
        CALLS.append((context.function_name, event))
        behaviour = BEHAVIOURS.get(context.function_name)
    if behaviour is None:
        return {"ok": True}
    return behaviour(event, context)
