"""The finance events' JSON Schemas (schemas/events/), for the tests that check what is published."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas" / "events"


def event_types() -> tuple[str, ...]:
    """Every detail-type with a schema (= what the archive's rule matches)."""
    return tuple(sorted(p.stem for p in SCHEMAS.glob("*.json")))


@cache
def validator(detail_type: str) -> Draft202012Validator:
    schema = json.loads((SCHEMAS / f"{detail_type}.json").read_text())
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def problems(detail_type: str, detail: Any) -> list[str]:
    """What is wrong with ``detail`` for its schema (empty: valid), each naming the path."""
    return [f"{detail_type} {'/'.join(map(str, e.absolute_path)) or '<detail>'}: {e.message}"
            for e in sorted(validator(detail_type).iter_errors(detail), key=lambda e: list(e.absolute_path))]
