"""The local payment provider: what the local environment runs (and only it: synth refuses it
for any other environment, infra/config.py), and what the tests run against.

It keeps no state and makes no network call, yet behaves like a provider where it matters to
the OMS: references are derived from the idempotency key, so a retried call answers as the
first one did (and a retried refund is the same refund); authorisations whose id starts with
``auth_decline`` are refused (``card_declined``), so the failure path can be exercised end to
end; a capture or refund of nothing is refused (``amount_too_small``), as Stripe does. Having no
state, it cannot know how much of a payment is already refunded: refusing a refund above what
was captured is the caller's rule (and Stripe's, ``amount_too_large``).

The one thing it remembers: a capture from an authorisation starting with ``auth_flaky`` fails
transiently (``TransientError``, as a provider's 503 would) the first two times per idempotency
key in this process, then succeeds, so the workflow's retries can be watched (API.md, "Local
environment only"). The local runtime runs every function in one process, and the wiring keeps
one provider per settings, so the count holds across the workflow's attempts.
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from decimal import Decimal

from functions.core.errors import TransientError
from functions.invoice.ports import PaymentDeclined, PaymentResult

DECLINING_PREFIX = "auth_decline"
FLAKY_PREFIX = "auth_flaky"
#: How often a flaky authorisation's capture fails (per idempotency key) before it succeeds.
FLAKY_FAILURES = 2


def _ref(prefix: str, *parts: str) -> str:
    return f"{prefix}_local_" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:20]


class LocalPaymentProvider:
    name = "local"

    def __init__(self) -> None:
        self._flaky_attempts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def capture(self, *, authorization_id: str, amount: Decimal, currency: str, idempotency_key: str,
                final: bool) -> PaymentResult:
        if authorization_id.startswith(DECLINING_PREFIX):
            raise PaymentDeclined("card_declined", f"authorisation {authorization_id} was declined")
        if amount <= 0:
            raise PaymentDeclined("amount_too_small", f"cannot capture {amount} {currency}")
        if authorization_id.startswith(FLAKY_PREFIX):
            with self._lock:
                self._flaky_attempts[idempotency_key] += 1
                attempt = self._flaky_attempts[idempotency_key]
            if attempt <= FLAKY_FAILURES:
                raise TransientError(f"local provider unavailable (attempt {attempt} of {authorization_id})")
        return PaymentResult(reference=_ref("cap", authorization_id, idempotency_key), status="captured",
                             provider=self.name, amount=amount)

    def void(self, *, authorization_id: str, idempotency_key: str) -> PaymentResult:
        return PaymentResult(reference=_ref("void", authorization_id, idempotency_key), status="voided",
                             provider=self.name)

    def refund(self, *, payment_reference: str, amount: Decimal, currency: str,
               idempotency_key: str) -> PaymentResult:
        if payment_reference.startswith(DECLINING_PREFIX):
            raise PaymentDeclined("charge_not_captured", f"nothing was captured from {payment_reference}")
        if amount <= 0:
            raise PaymentDeclined("amount_too_small", f"cannot refund {amount} {currency}")
        return PaymentResult(reference=_ref("re", payment_reference, idempotency_key),
                             status="refunded", provider=self.name, amount=amount)
