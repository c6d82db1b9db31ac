"""The local payment provider: what every environment uses until a real provider is
configured (the finance issue), and what the local stack and tests run against.

It keeps no state and makes no network call, yet behaves like a provider where it matters to
the OMS: references are derived from the idempotency key, so a retried call answers as the
first one did; authorisations whose id starts with ``auth_decline`` are refused
(``card_declined``), so the failure path can be exercised end to end.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal

from functions.invoice.ports import PaymentDeclined, PaymentResult

DECLINING_PREFIX = "auth_decline"


def _ref(prefix: str, *parts: str) -> str:
    return f"{prefix}_local_" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:20]


class LocalPaymentProvider:
    name = "local"

    def capture(self, *, authorization_id: str, amount: Decimal, currency: str, idempotency_key: str,
                final: bool) -> PaymentResult:
        if authorization_id.startswith(DECLINING_PREFIX):
            raise PaymentDeclined("card_declined", f"authorisation {authorization_id} was declined")
        if amount <= 0:
            raise PaymentDeclined("amount_too_small", f"cannot capture {amount} {currency}")
        return PaymentResult(reference=_ref("cap", authorization_id, idempotency_key), status="captured",
                             provider=self.name, amount=amount)

    def void(self, *, authorization_id: str, idempotency_key: str) -> PaymentResult:
        return PaymentResult(reference=_ref("void", authorization_id, idempotency_key), status="voided",
                             provider=self.name)
