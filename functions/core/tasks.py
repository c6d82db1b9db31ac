"""Step Functions task inputs: plain dataclasses, checked at the edge.

A task's payload is built by this project's own state machines (``statemachines/*.asl.json``),
so what a task needs is a clear error when a payload is malformed — a missing field, a wrong
type — not a validation framework: importing pydantic for Powertools' Parser cost a task
function more cold start than the rest of its code (``make bench``, bench/coldstart.py). The
API handlers keep pydantic: their models are the OpenAPI contract.

    @dataclass(frozen=True)
    class BackorderInput:
        order_id: str
        execution_id: str
        reason: str = "NO_STOCK"

    @task_handler(BackorderInput)   # core/handlers/entrypoints.py: logger, metrics, then this check
    def lambda_handler(event: BackorderInput, context): ...

Checked: every field present unless it has a default; ``str``, ``int`` (not ``bool``),
``bool``, ``dict``, ``Literal[...]``, ``X | None``, ``list[...]`` of those or of nested
dataclasses. Keys the dataclass does not name are ignored (as the workflow may pass more).
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class TaskInputError(ValueError):
    """A task payload that does not match its input dataclass (the message names the field)."""


def parse(model: type[T], payload: Any, *, path: str | None = None) -> T:
    """``model`` from ``payload``, or TaskInputError naming the first field that is wrong."""
    where = path or model.__name__
    if not isinstance(payload, dict):
        raise TaskInputError(f"{where}: expected an object, got {type(payload).__name__}")
    hints = _hints(model)  # type: ignore[arg-type]  # a class is hashable
    values: dict[str, Any] = {}
    for f in dataclasses.fields(model):  # type: ignore[arg-type]
        if f.name not in payload:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise TaskInputError(f"{where}.{f.name} is required")
            continue
        values[f.name] = _value(payload[f.name], hints[f.name], f"{where}.{f.name}")
    return model(**values)


@functools.cache
def _hints(model: type) -> dict[str, Any]:
    """A dataclass's resolved field types, once per model (not on every invocation)."""
    return typing.get_type_hints(model)


def _value(value: Any, hint: Any, path: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return value
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return parse(hint, value, path=path)
    if origin is typing.Literal:
        if value not in args:
            raise TaskInputError(f"{path} must be one of {list(args)}, not {value!r}")
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for option in (a for a in args if a is not type(None)):
            try:
                return _value(value, option, path)
            except TaskInputError:
                continue
        raise TaskInputError(f"{path} has the wrong type ({type(value).__name__})")
    if origin is list:
        if not isinstance(value, list):
            raise TaskInputError(f"{path} must be a list, not {type(value).__name__}")
        return [_value(item, args[0] if args else Any, f"{path}[{i}]") for i, item in enumerate(value)]
    expected = origin or hint
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise TaskInputError(f"{path} must be {expected.__name__}, not {type(value).__name__}")
    return value


def task(model: type[T]) -> Callable[[Callable[[T, Any], R]], Callable[[Any, Any], R]]:
    """Decorate a task handler: its event is parsed into ``model`` first."""
    def decorate(handler: Callable[[T, Any], R]) -> Callable[[Any, Any], R]:
        @functools.wraps(handler)
        def wrapper(event: Any, context: Any) -> R:
            return handler(parse(model, event), context)
        return wrapper
    return decorate
