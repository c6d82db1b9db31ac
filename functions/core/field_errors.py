"""pydantic's validation errors as the contract's field errors (``{"field", "message"}``):
the API's 422 (core/handlers/http.py) and the feeds' dead letters (capture) name fields alike."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from functions.core.errors import FieldError


def field_path(loc: Iterable[Any]) -> str:
    """pydantic loc ``("body", "lines", 0, "quantity")`` → ``lines[0].quantity``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def error_message(error: Mapping[str, Any]) -> str:
    """A pydantic error's message as the contract words it."""
    msg = str(error.get("msg", "is invalid"))
    for prefix in ("Value error, ", "Assertion failed, "):
        msg = msg.removeprefix(prefix)
    if error.get("type") == "missing":
        return "is required"
    if error.get("type") == "extra_forbidden":
        return "is not a known field"
    if error.get("type") == "too_short" and (error.get("ctx") or {}).get("min_length") == 1:
        return "needs at least one entry"
    return msg


def field_errors(errors: Iterable[Mapping[str, Any]], *, within: tuple[str, ...] = (),
                 default: str = "body") -> list[FieldError]:
    """Each error with its field named from where it is; a leading part in ``within`` (e.g.
    ``body``: what the field is in) is dropped, and so are the union/validator branches pydantic
    appends to some locs (``function-after[…]``)."""
    out = []
    for e in errors:
        loc = list(e.get("loc") or ())
        if loc and loc[0] in within:
            loc = loc[1:]
        loc = [p for p in loc if not (isinstance(p, str) and "[" in p)]
        out.append(FieldError(field_path(loc) or default, error_message(e)))
    return out
