"""Ports of the invoice capability: what the use cases need from the outside world.

The payment provider port is deliberately small: capture part or all of an authorisation the
channel took at checkout, and void what is left of it. Every call carries an idempotency key,
so a retried task never captures twice (providers such as Stripe and Adyen honour the key).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from functions.core.orders import TimelineEntry


@dataclass(frozen=True)
class Completion:
    """Completing the order in the same write as settling its last invoice: valid only if the
    order is still SHIPPED with ``settled_before`` invoices settled (the write's condition)."""

    settled_before: int
    entry: TimelineEntry


@dataclass(frozen=True)
class PaymentResult:
    #: The provider's id of this capture or cancellation (shown to finance as ``payment_reference``).
    reference: str
    #: ``captured`` or ``voided``.
    status: str
    #: Which provider answered (``local``, ``stripe``).
    provider: str
    #: The amount the provider confirms (captures only).
    amount: Decimal | None = None


class PaymentDeclined(Exception):
    """The provider refused for good (expired or unknown authorisation, amount above it,
    card declined). Not retried: finance has to look at it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class PaymentProvider(Protocol):
    name: str

    def capture(self, *, authorization_id: str, amount: Decimal, currency: str, idempotency_key: str,
                final: bool) -> PaymentResult:
        """Capture ``amount`` (major units, e.g. ``Decimal("35.58")``) of the authorisation.

        ``final`` is true for the order's last capture: the provider may release the rest of
        the authorisation. Raises ``PaymentDeclined`` for a refusal and
        ``functions.core.errors.TransientError`` for anything worth retrying (timeouts, 5xx,
        rate limits)."""
        ...

    def void(self, *, authorization_id: str, idempotency_key: str) -> PaymentResult:
        """Release an authorisation nothing has been captured from (a cancelled order)."""
        ...
