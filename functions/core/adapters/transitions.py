"""Write conditions built from the one transition table (``core.orders.TRANSITIONS``): a write
that moves an order header into a status carries the condition that the header is in a status
the table allows it from. A rule change is a change of the table, never of a condition."""

from __future__ import annotations

from typing import Any

from functions.core.orders import OrderStatus, sources


def into(target: OrderStatus) -> tuple[str, dict[str, Any]]:
    """``(condition, values)`` that lets a write move the header into ``target`` only from a
    status the transition table allows (``#s`` names the ``status`` attribute)."""
    allowed = sorted(s.value for s in sources(target))
    if not allowed:
        raise ValueError(f"no status may move into {target.value}: the transition table has no such write")
    names = [f":from_{target.value.lower()}_{i}" for i in range(len(allowed))]
    return f"#s IN ({', '.join(names)})", dict(zip(names, allowed, strict=True))
