"""The Stripe payment provider: captures, voids and refunds PaymentIntents with Stripe's
official Python library (``stripe``, ``StripeClient``).

This module imports ``stripe`` (about half a second of imports): ``functions/invoice/wiring.py``
imports it only when the environment's provider is ``stripe``, so the local provider never
loads it. The OMS holds a PaymentIntent id (``pi_...``) as the order's ``authorization_id``: the
channel created and confirmed the PaymentIntent at checkout with ``capture_method=manual``, so
the card is authorised but not charged.

- ``capture`` is ``POST /v1/payment_intents/{id}/capture`` with ``amount_to_capture`` in the
  currency's minor units and, for every capture but the order's last, ``final_capture=false``
  (multicapture). See "Capture a PaymentIntent"
  (https://docs.stripe.com/api/payment_intents/capture) and "Capture a payment multiple times"
  (https://docs.stripe.com/payments/multicapture).
- ``void`` is ``POST /v1/payment_intents/{id}/cancel`` with a ``cancellation_reason``; cancelling a
  PaymentIntent in ``requires_capture`` releases what is left of the authorisation. See "Cancel a
  PaymentIntent" (https://docs.stripe.com/api/payment_intents/cancel).
- ``refund`` is ``POST /v1/refunds`` with the PaymentIntent (or the Charge) and an ``amount``:
  partial, and as often as needed until the captured amount is refunded. See "Create a refund"
  (https://docs.stripe.com/api/refunds/create).
- Amounts go to Stripe in minor units, zero-decimal and three-decimal currencies included. See
  "Supported currencies" (https://docs.stripe.com/currencies).
- Every request carries the OMS's idempotency key (request option ``idempotency_key``, sent as
  ``Idempotency-Key``). Stripe saves the status and body of the first request made with a key
  and answers a retry with the same key and parameters with that saved response, for about 24
  hours: a retried capture or refund never moves money twice. See "Idempotent requests"
  (https://docs.stripe.com/api/idempotent_requests).
- The library's own retries: ``max_network_retries`` (default 1 here) retries a connection
  error, a ``409`` and a ``5xx`` — with the same idempotency key, honouring Stripe's
  ``Stripe-Should-Retry`` header, after 0.5–1 s — within the one invocation; a ``429`` is not
  retried by the library. What is left is the workflow's (``TransientError``, Step Functions
  retries with backoff). With ``timeout`` 5 s that stays inside the function's 15 s.
- Errors are mapped per "Errors" (https://docs.stripe.com/api/errors) and "Error handling"
  (https://docs.stripe.com/error-handling): a refusal (``CardError``, 402 ``card_error``;
  ``InvalidRequestError``, 400/404 ``invalid_request_error`` such as
  ``payment_intent_unexpected_state`` or ``amount_too_large``; ``IdempotencyError`` from reusing
  a key with other parameters) is ``PaymentDeclined``; ``RateLimitError`` (429),
  ``idempotency_key_in_use`` / ``lock_timeout`` (a concurrent request with the same key),
  ``APIConnectionError`` and ``APIError`` (5xx) are ``TransientError``; ``AuthenticationError`` /
  ``PermissionError`` (401/403: a wrong, revoked or under-privileged key) raise ``RuntimeError``,
  because retrying cannot help and finance cannot fix it.

Caveat on 5xx: Stripe caches a ``500`` under its idempotency key like any other result, so a
retry with the same key usually gets the same ``500``; Stripe says to treat it as indeterminate
and reconciles it itself (webhooks). We still raise ``TransientError`` so the workflow retries
(a ``502``/``503``/``504`` from the edge is not cached) and, when retries run out, finance reviews it.

The API key is a secret (``sk_...``) or restricted key (``rk_...``, write access to
PaymentIntents and Refunds). It is passed as a callable (``api_key``) called for every request:
the wiring gives Powertools' ``get_secret`` with a ``max_age``, so the key is read from Secrets
Manager at first use, cached, and a key rotated in Stripe's dashboard and put into the secret
is picked up within that age.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NoReturn

import stripe

from functions.core.errors import TransientError
from functions.invoice.ports import PaymentDeclined, PaymentResult

if TYPE_CHECKING:
    from stripe import RequestOptions

    from functions.invoice.ports import PaymentProvider

#: Where the library sends requests (``base_addresses={"api": ...}``); tests use a local server.
DEFAULT_API_BASE = "https://api.stripe.com"
#: Seconds per HTTP request (the library's default is 80, far beyond the function's 15 s).
DEFAULT_TIMEOUT = 5.0
#: The library's own retries within one call (see the module docstring).
DEFAULT_NETWORK_RETRIES = 1

#: Amounts in these are whole units: ``amount_to_capture=500`` is 500 JPY
#: (https://docs.stripe.com/currencies#zero-decimal).
ZERO_DECIMAL_CURRENCIES = frozenset({
    "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF",
})
#: Three minor digits, but Stripe requires the last one to be 0 (https://docs.stripe.com/currencies#three-decimal).
THREE_DECIMAL_CURRENCIES = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})
#: Two decimals in the API, but only whole units are accepted: ``amount_to_capture`` must be a
#: multiple of 100 (https://docs.stripe.com/currencies#special-cases).
WHOLE_UNIT_CURRENCIES = frozenset({"ISK"})


def currency_exponent(currency: str) -> int:
    """How many minor-unit digits Stripe's API uses for ``currency`` (ISO 4217, any case)."""
    code = currency.upper()
    if code in ZERO_DECIMAL_CURRENCIES:
        return 0
    if code in THREE_DECIMAL_CURRENCIES:
        return 3
    return 2


def to_minor_units(amount: Decimal, currency: str) -> int:
    """``amount`` (major units) as Stripe's integer amount, exactly: ``35.58 EUR -> 3558``,
    ``1200 JPY -> 1200``, ``1.25 KWD -> 1250``. Raises ``ValueError`` for an amount with more
    precision than the currency allows (``35.585 EUR``, ``12.5 JPY``, ``1.255 KWD``, ``5.50 ISK``):
    it is never rounded."""
    code = currency.upper()
    if len(code) != 3 or not code.isalpha():
        raise ValueError(f"not an ISO 4217 currency code: {currency!r}")
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise ValueError(f"not a finite Decimal amount: {amount!r}")
    exponent = currency_exponent(code)
    minor = amount.scaleb(exponent)
    if minor != minor.to_integral_value():
        raise ValueError(f"{amount} {code} has more decimals than {code} allows ({exponent})")
    value = int(minor)
    if code in THREE_DECIMAL_CURRENCIES and value % 10:
        raise ValueError(f"{amount} {code}: Stripe accepts {code} amounts to two decimals only")
    if code in WHOLE_UNIT_CURRENCIES and value % 100:
        raise ValueError(f"{amount} {code}: Stripe accepts whole {code} amounts only")
    return value


def from_minor_units(value: int, currency: str) -> Decimal:
    """The inverse of ``to_minor_units``: ``3558 EUR -> Decimal("35.58")``."""
    return Decimal(value).scaleb(-currency_exponent(currency))

#: What ``cancellation_reason`` may be when we cancel (Stripe sets the others itself).
CANCELLATION_REASONS = frozenset({"duplicate", "fraudulent", "requested_by_customer", "abandoned"})

#: Error codes Stripe returns for a request that may succeed if simply sent again, whatever the status.
RETRYABLE_CODES = frozenset({"idempotency_key_in_use", "lock_timeout", "rate_limit"})


class StripePaymentProvider:
    """``PaymentProvider`` on Stripe PaymentIntents (see the module docstring).

    ``api_key`` returns the key (called per request, cached by its giver); it never appears in
    errors or ``repr``. ``api_base`` is where requests go (a local server in tests).
    ``stripe_version`` pins ``Stripe-Version``; by default the library's own version applies.
    The ``StripeClient`` is made at the first call, not here: building the provider reads nothing."""

    name = "stripe"

    def __init__(self, api_key: Callable[[], str], *, api_base: str = DEFAULT_API_BASE,
                 timeout: float = DEFAULT_TIMEOUT, max_network_retries: int = DEFAULT_NETWORK_RETRIES,
                 stripe_version: str | None = None) -> None:
        if not api_base.startswith(("https://", "http://")):
            raise ValueError("api_base must be an http(s) URL")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        if max_network_retries < 0:
            raise ValueError("max_network_retries must not be negative")
        self._api_key = api_key
        self._api_base = api_base.rstrip("/")
        self._timeout = timeout
        self._retries = max_network_retries
        self._stripe_version = stripe_version
        self._client: stripe.StripeClient | None = None

    def __repr__(self) -> str:
        return f"StripePaymentProvider(api_base={self._api_base!r}, max_network_retries={self._retries})"

    # -- the port ----------------------------------------------------------------------------
    def capture(self, *, authorization_id: str, amount: Decimal, currency: str, idempotency_key: str,
                final: bool) -> PaymentResult:
        """Capture ``amount`` of the PaymentIntent ``authorization_id``.

        Sends ``amount_to_capture`` in minor units (``ValueError`` if ``amount`` has more
        decimals than the currency allows). A non-final capture sends ``final_capture=false``:
        the PaymentIntent stays ``requires_capture`` with the rest capturable for the order's
        later shipments. That is Stripe multicapture, so for split shipments the channel must
        create the PaymentIntent with ``capture_method=manual`` and
        ``payment_method_options[card][request_multicapture]=if_available``; otherwise Stripe
        refuses ``final_capture=false`` and this raises ``PaymentDeclined``. The final capture
        omits ``final_capture`` (default ``true``): Stripe releases any uncaptured remainder.

        Returns ``reference`` = the PaymentIntent's ``latest_charge`` (``ch_...``, what finance
        finds in the Dashboard and in payouts), or the PaymentIntent id when Stripe gives none.
        ``amount`` is this call's capture (``amount_received`` is cumulative over captures)."""
        minor = to_minor_units(amount, currency)
        if minor <= 0:
            raise PaymentDeclined("amount_too_small", f"cannot capture {amount} {currency}")
        intent_id = _intent_id(authorization_id)

        def request(final_capture: bool) -> dict[str, Any]:
            params: dict[str, Any] = {"amount_to_capture": minor}
            if not final_capture:
                params["final_capture"] = False
            return self._call(lambda c, o: c.v1.payment_intents.capture(
                intent_id, params, o), idempotency_key)  # type: ignore[arg-type]

        try:
            intent = request(final)
        except _KeyUsedWithOtherParameters:
            # A retry of this invoice's capture whose ``final`` was decided again after another
            # shipment settled meanwhile: the amount is the invoice's and cannot differ, so the
            # first request was the other ``final``. Sending exactly that again replays Stripe's
            # answer to it (the key still guards against a second capture).
            intent = request(not final)
        returned_currency = str(intent.get("currency") or currency).upper()
        if returned_currency != currency.upper():
            raise PaymentDeclined("currency_mismatch", f"PaymentIntent {authorization_id} is in {returned_currency}, "
                                                       f"the capture was for {amount} {currency.upper()}")
        return PaymentResult(reference=_charge_id(intent) or str(intent["id"]), status="captured",
                             provider=self.name, amount=from_minor_units(minor, currency))

    def void(self, *, authorization_id: str, idempotency_key: str,
             cancellation_reason: str | None = "requested_by_customer") -> PaymentResult:
        """Cancel the PaymentIntent, releasing its authorisation (the order was cancelled before
        anything was captured). A PaymentIntent already cancelled (Stripe also cancels uncaptured
        ones after 7 days) or captured raises ``PaymentDeclined`` (``payment_intent_unexpected_state``).
        Returns ``reference`` = the PaymentIntent id."""
        params: dict[str, Any] = {}
        if cancellation_reason is not None:
            if cancellation_reason not in CANCELLATION_REASONS:
                raise ValueError(f"cancellation_reason must be one of {sorted(CANCELLATION_REASONS)}")
            params["cancellation_reason"] = cancellation_reason
        intent = self._call(lambda c, o: c.v1.payment_intents.cancel(
            _intent_id(authorization_id), params, o), idempotency_key)  # type: ignore[arg-type]
        return PaymentResult(reference=str(intent["id"]), status="voided", provider=self.name)

    def refund(self, *, payment_reference: str, amount: Decimal, currency: str,
               idempotency_key: str) -> PaymentResult:
        """Refund ``amount`` of what was captured: ``payment_reference`` is the PaymentIntent
        (``pi_...``, the order's authorisation) or a capture's Charge (``ch_...``). Partial and
        repeatable up to the captured amount; more is ``PaymentDeclined`` (Stripe's
        ``charge_already_refunded`` / ``amount_too_large``). The same ``idempotency_key`` again
        answers the first refund. A refund Stripe reports ``failed`` or ``canceled`` is declined;
        ``pending`` is accepted (it settles at the bank, Stripe reports it by webhook).
        Returns ``reference`` = the Refund id (``re_...``)."""
        minor = to_minor_units(amount, currency)
        if minor <= 0:
            raise PaymentDeclined("amount_too_small", f"cannot refund {amount} {currency}")
        if payment_reference.startswith("pi_"):
            target = {"payment_intent": payment_reference}
        elif payment_reference.startswith("ch_"):
            target = {"charge": payment_reference}
        else:
            raise PaymentDeclined("invalid_payment_reference",
                                  f"{payment_reference!r} is neither a PaymentIntent (pi_...) nor a Charge (ch_...)")
        params: dict[str, Any] = {**target, "amount": minor}
        refund = self._call(lambda c, o: c.v1.refunds.create(params, o), idempotency_key)  # type: ignore[arg-type]
        if refund.get("status") in ("failed", "canceled"):
            raise PaymentDeclined(f"refund_{refund['status']}",
                                  f"refund {refund.get('id')} of {amount} {currency}: {refund.get('failure_reason')}")
        return PaymentResult(reference=str(refund["id"]), status="refunded", provider=self.name,
                             amount=from_minor_units(int(refund.get("amount") or minor), currency))

    # -- the library ---------------------------------------------------------------------------
    def _stripe(self) -> stripe.StripeClient:
        if self._client is None:
            self._client = stripe.StripeClient(
                self._api_key(), base_addresses={"api": self._api_base}, stripe_version=self._stripe_version,
                max_network_retries=self._retries, http_client=stripe.RequestsClient(timeout=self._timeout))
        return self._client

    def _call(self, request: Callable[[stripe.StripeClient, RequestOptions], Any],
              idempotency_key: str) -> dict[str, Any]:
        """One request through the library with the key (read now: cached by its giver) and the
        idempotency key; the answer as a plain dict, the library's errors as the port's."""
        if not idempotency_key or len(idempotency_key) > 255:
            raise ValueError("an idempotency key of 1 to 255 characters is required")
        key = self._api_key()
        options: RequestOptions = {"api_key": key, "idempotency_key": idempotency_key}
        try:
            answer = request(self._stripe(), options)
        except stripe.StripeError as exc:
            _raise(exc, key)
        result: dict[str, Any] = answer.to_dict()
        if not isinstance(result.get("id"), str):
            raise TransientError("Stripe answered without an object id")
        return result


class _KeyUsedWithOtherParameters(PaymentDeclined):
    """Stripe's ``idempotency_error``: the key was used before with other parameters. Declined
    (finance looks at it) unless the caller knows the one other request it can have been."""


def _raise(exc: stripe.StripeError, key: str) -> NoReturn:
    """The library's error as the port's (see the module docstring); the key never in a message."""
    status = exc.http_status
    error = exc.error
    code = (error.code if error else None) or exc.code or (error.type if error else None) or f"http_{status}"
    if isinstance(exc, (stripe.AuthenticationError, stripe.PermissionError)):
        # Stripe's message for these quotes (part of) the key: leave it out.
        raise RuntimeError(f"Stripe refused the API key ({status} {code}): the payment provider is "
                           "misconfigured (wrong, revoked or under-privileged key)") from None
    message = (error.message if error else None) or exc.user_message or f"HTTP {status} from Stripe"
    if key:
        message = message.replace(key, "[api key]")
    if error is not None and error.decline_code:
        message = f"{message} (decline_code: {error.decline_code})"
    if isinstance(exc, (stripe.RateLimitError, stripe.APIConnectionError, stripe.APIError)) \
            or code in RETRYABLE_CODES or (status is not None and (status >= 500 or status == 424)):
        raise TransientError(f"Stripe {status or 'unreachable'} {code}: {message}") from None
    if isinstance(exc, stripe.IdempotencyError):
        raise _KeyUsedWithOtherParameters(str(code), message) from None
    if isinstance(exc, (stripe.CardError, stripe.InvalidRequestError)):
        raise PaymentDeclined(str(code), message) from None
    raise TransientError(f"Stripe {status} {code}: {message}") from None


def _intent_id(authorization_id: str) -> str:
    if not authorization_id.startswith("pi_"):
        raise PaymentDeclined("invalid_authorization",
                              f"{authorization_id!r} is not a Stripe PaymentIntent id (pi_...)")
    return authorization_id


def _charge_id(intent: Mapping[str, Any]) -> str | None:
    """``latest_charge`` is an id, or the Charge itself when expanded."""
    charge = intent.get("latest_charge")
    if isinstance(charge, dict):
        charge = charge.get("id")
    return charge if isinstance(charge, str) and charge else None


if TYPE_CHECKING:  # the adapter satisfies the port
    _port: PaymentProvider = StripePaymentProvider(lambda: "sk_test_typecheck")

__all__ = ["StripePaymentProvider", "from_minor_units", "to_minor_units"]
