"""Order bodies as a webshop would send them."""

from __future__ import annotations

import copy
import uuid
from typing import Any

ORDER: dict[str, Any] = {
    "customer": {"customer_id": "C-42", "email": "ada@example.com", "phone": "+4915112345678", "locale": "en-GB"},
    "currency": "EUR",
    "lines": [{"sku": "SKU-RED-MUG", "quantity": 2, "unit_price": "12.50"}],
    "shipping_address": {"name": "Ada Lovelace", "line1": "Unter den Linden 1", "city": "Berlin",
                         "postal_code": "10117", "country": "DE"},
    "shipping_method": "standard",
    "payment": {"method": "card", "authorization_id": "auth_8xk2", "amount": "35.58"},
}


def new_order(**changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(ORDER)
    body["channel_order_id"] = f"WEB-{uuid.uuid4().hex[:10]}"
    body.update(changes)
    return body


def key() -> str:
    return f"idem-{uuid.uuid4()}"
