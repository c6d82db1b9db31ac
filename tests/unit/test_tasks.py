"""Step Functions task inputs (functions/core/tasks.py): a malformed payload is refused with the
field named, before the use case runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import pytest

from functions.core.tasks import TaskInputError, parse, task


@dataclass(frozen=True)
class Line:
    sku: str
    quantity: int


@dataclass(frozen=True)
class Payload:
    order_id: str
    kind: Literal["order_confirmed", "order_backordered"]
    lines: list[Line]
    note: str | None = None
    state: dict[str, Any] = field(default_factory=dict)


GOOD = {"order_id": "o1", "kind": "order_confirmed", "lines": [{"sku": "A", "quantity": 2}], "extra": 1}


def test_a_good_payload_becomes_the_dataclass_with_nested_items_and_defaults() -> None:
    parsed = parse(Payload, GOOD)
    assert parsed == Payload("o1", "order_confirmed", [Line("A", 2)])
    assert parse(Payload, {**GOOD, "note": None, "state": {"error": {}}}).state == {"error": {}}


@pytest.mark.parametrize(("payload", "message"), [
    ({k: v for k, v in GOOD.items() if k != "order_id"}, "Payload.order_id is required"),
    ({**GOOD, "order_id": 7}, "Payload.order_id must be str, not int"),
    ({**GOOD, "kind": "order_shipped"}, "Payload.kind must be one of"),
    ({**GOOD, "lines": [{"sku": "A", "quantity": True}]}, "Payload.lines[0].quantity must be int, not bool"),
    ({**GOOD, "lines": [{"sku": "A"}]}, "Payload.lines[0].quantity is required"),
    ({**GOOD, "lines": {"sku": "A"}}, "Payload.lines must be a list"),
    ({**GOOD, "note": 3}, "Payload.note has the wrong type"),
    ({**GOOD, "state": []}, "Payload.state must be dict"),
    ("not an object", "Payload: expected an object"),
])
def test_a_malformed_payload_is_refused_naming_the_field(payload: Any, message: str) -> None:
    with pytest.raises(TaskInputError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse(Payload, payload)


def test_the_decorator_hands_the_handler_the_parsed_input() -> None:
    seen: list[Payload] = []

    @task(Payload)
    def handler(event: Payload, context: Any) -> str:
        seen.append(event)
        return event.order_id

    assert handler(GOOD, None) == "o1" and seen[0].lines == [Line("A", 2)]
    with pytest.raises(TaskInputError):
        handler({}, None)
