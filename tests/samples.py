"""The one builder of sample orders: the request bodies a webshop sends (``POST /orders``), for every
test tier and the bench.

The default is the README's example order: Ada Lovelace orders two red mugs at 12.50 EUR net, card,
standard shipping to Berlin — 35.58 EUR (25.00 + 4.90 shipping, plus 19 % VAT). Everything else is a
change of it: ``order_body(quantity=1, payment=card("17.73"))``, ``order_body(lines=[…])``; a keyword
that is not a parameter replaces that top-level field.

It lives in ``tests/`` rather than ``localcloud/`` because importing anything under ``localcloud/``
runs ``localcloud/__init__.py``, which imports moto and every patch (~5 s), and the unit tier uses
no moto; it imports nothing but the standard library. The bench (run from the repository root) uses
it too.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

CUSTOMER: dict[str, Any] = {"customer_id": "C-42", "email": "ada@example.com", "phone": "+4915112345678",
                            "locale": "en-GB"}
ADDRESS: dict[str, Any] = {"name": "Ada Lovelace", "line1": "Unter den Linden 1", "city": "Berlin",
                           "postal_code": "10117", "country": "DE"}
TOTAL = "35.58"  # of the default body: 2 x 12.50 + 4.90 standard shipping to DE, plus 19 % VAT


def card(amount: str = TOTAL, authorization_id: str = "auth_8xk2") -> dict[str, Any]:
    """A card payment authorised for ``amount`` (it has to cover the order's total)."""
    return {"method": "card", "authorization_id": authorization_id, "amount": amount}


def order_body(*, sku: str = "SKU-RED-MUG", quantity: int = 2, unit_price: str = "12.50",
               channel_order_id: str | None = None, payment: dict[str, Any] | None = None,
               **changes: Any) -> dict[str, Any]:
    """A fresh ``POST /orders`` body: one line of ``quantity`` × ``sku`` at ``unit_price``, the channel's
    own order id (``WEB-`` and 10 random hex digits unless given), ``payment`` (default: ``card()``);
    then each of ``changes`` replaces its top-level field (``lines``, ``customer``, ``shipping_method``, …)."""
    body: dict[str, Any] = {
        "channel_order_id": channel_order_id or f"WEB-{uuid.uuid4().hex[:10]}",
        "customer": copy.deepcopy(CUSTOMER),
        "currency": "EUR",
        "lines": [{"sku": sku, "quantity": quantity, "unit_price": unit_price}],
        "shipping_address": copy.deepcopy(ADDRESS),
        "shipping_method": "standard",
        "payment": copy.deepcopy(payment) if payment is not None else card(),
    }
    body.update(changes)
    return body


def idempotency_key() -> str:
    """A fresh ``Idempotency-Key`` header value."""
    return f"idem-{uuid.uuid4()}"
