"""Order bodies as a webshop would send them: the e2e and integration tiers' names for the one
builder of sample orders, tests/samples.py."""

from __future__ import annotations

from typing import Any

from tests.samples import idempotency_key as key
from tests.samples import order_body as new_order

#: The sample order without a channel order id (what a quote needs).
ORDER: dict[str, Any] = {k: v for k, v in new_order().items() if k != "channel_order_id"}

__all__ = ["ORDER", "key", "new_order"]
