"""The Stripe payment provider: captures and voids PaymentIntents over Stripe's REST API.

Standard library only (``urllib.request``), no Stripe SDK. The OMS holds a PaymentIntent id
(``pi_...``) as the order's ``authorization_id``: the channel created and confirmed the
PaymentIntent at checkout with ``capture_method=manual``, so the card is authorised but not charged.

- ``capture`` is ``POST /v1/payment_intents/{id}/capture`` with ``amount_to_capture`` in the
  currency's minor units and, for every capture but the order's last, ``final_capture=false``
  (multicapture). See "Capture a PaymentIntent"
  (https://docs.stripe.com/api/payment_intents/capture) and "Capture a payment multiple times"
  (https://docs.stripe.com/payments/multicapture).
- ``void`` is ``POST /v1/payment_intents/{id}/cancel`` with a ``cancellation_reason``; cancelling a
  PaymentIntent in ``requires_capture`` releases what is left of the authorisation. See "Cancel a
  PaymentIntent" (https://docs.stripe.com/api/payment_intents/cancel).
- Amounts go to Stripe in minor units, zero-decimal and three-decimal currencies included. See
  "Supported currencies" (https://docs.stripe.com/currencies).
- Every request carries the OMS's idempotency key as ``Idempotency-Key``. Stripe (API v1) saves
  the status and body of the first request made with a key once the endpoint began executing,
  and answers a retry with the same key and parameters with that saved response, for about 24
  hours. A retried capture therefore never captures twice: a capture of an already-captured
  PaymentIntent with the same key simply returns Stripe's cached response. See "Idempotent
  requests" (https://docs.stripe.com/api/idempotent_requests).
- Errors are mapped per "Errors" (https://docs.stripe.com/api/errors) and "Advanced error
  handling" (https://docs.stripe.com/error-low-level): a refusal (402 ``card_error``, 400/404
  ``invalid_request_error`` such as ``payment_intent_unexpected_state`` or ``amount_too_large``,
  an ``idempotency_error`` from reusing a key with other parameters) is ``PaymentDeclined``;
  rate limits (429), ``idempotency_key_in_use`` (a concurrent request with the same key), 424 and
  5xx, timeouts and network errors are ``TransientError``; 401/403 (a wrong or under-privileged
  key) raise ``RuntimeError``, because retrying cannot help and finance cannot fix it.

Caveat on 5xx: Stripe caches a ``500`` under its idempotency key like any other result, so a
retry with the same key usually gets the same ``500``; Stripe says to treat it as indeterminate
and reconciles it itself (webhooks). We still raise ``TransientError`` so the workflow retries
(a ``502``/``503``/``504`` from the edge is not cached) and, when retries run out, finance reviews it.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Any

from functions.core.errors import TransientError
from functions.invoice.ports import PaymentDeclined, PaymentResult

if TYPE_CHECKING:
    from functions.invoice.ports import PaymentProvider

#: ``(method, url, headers, body) -> (status, body)``. Must return error responses too (4xx, 5xx)
#: and raise ``TransientError`` only when no response arrived.
Transport = Callable[[str, str, dict[str, str], bytes], tuple[int, bytes]]

DEFAULT_BASE_URL = "https://api.stripe.com/v1"

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

#: What ``cancellation_reason`` may be when we cancel (Stripe sets the others itself).
CANCELLATION_REASONS = frozenset({"duplicate", "fraudulent", "requested_by_customer", "abandoned"})

#: Error codes Stripe returns for a request that may succeed if simply sent again, whatever the status.
RETRYABLE_CODES = frozenset({"idempotency_key_in_use", "lock_timeout", "rate_limit"})


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


def urllib_transport(method: str, url: str, headers: dict[str, str], body: bytes, *,
                     timeout: float = 10.0) -> tuple[int, bytes]:
    """The default transport: one HTTP request with ``urllib.request``, no retries.

    Returns the status and body of any HTTP response, error statuses included. Raises
    ``TransientError`` when no response arrived (DNS, refused connection, TLS, timeout, a
    connection dropped mid-response): with an idempotency key the request is safe to repeat."""
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in ("https", "http"):
        raise ValueError(f"refusing a {scheme or 'relative'} URL")
    request = urllib.request.Request(url, data=body, headers=headers, method=method)  # noqa: S310 (scheme checked)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (scheme checked)
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as exc:  # a response with an error status: the caller maps it
        try:
            error_body = exc.read()
        except (OSError, http.client.HTTPException):
            error_body = b""
        finally:
            exc.close()
        return int(exc.code), bytes(error_body or b"")
    except urllib.error.URLError as exc:
        raise TransientError(f"Stripe unreachable: {exc.reason}") from exc
    except (TimeoutError, OSError, http.client.HTTPException) as exc:
        raise TransientError(f"Stripe request failed: {type(exc).__name__}: {exc}") from exc


class StripePaymentProvider:
    """``PaymentProvider`` on Stripe PaymentIntents (see the module docstring).

    ``api_key`` is a secret (``sk_...``) or restricted (``rk_...``, with write access to
    PaymentIntents) key; it is sent as a Bearer token and never appears in errors or ``repr``.
    ``api_version`` pins ``Stripe-Version``; without it the account's default version applies."""

    name = "stripe"

    def __init__(self, api_key: str, *, transport: Transport | None = None, base_url: str = DEFAULT_BASE_URL,
                 timeout: float = 10.0, api_version: str | None = None) -> None:
        if not api_key or not api_key.strip():
            raise ValueError("a Stripe API key is required")
        if urllib.parse.urlsplit(base_url).scheme not in ("https", "http"):
            raise ValueError("base_url must be an http(s) URL")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self._api_key = api_key
        self._base_url = base_url.rstrip("/")
        self._api_version = api_version
        self._transport: Transport = transport or partial(urllib_transport, timeout=timeout)

    def __repr__(self) -> str:
        return f"StripePaymentProvider(base_url={self._base_url!r}, api_version={self._api_version!r})"

    def capture(self, *, authorization_id: str, amount: Decimal, currency: str, idempotency_key: str,
                final: bool) -> PaymentResult:
        """Capture ``amount`` of the PaymentIntent ``authorization_id``.

        Sends ``amount_to_capture`` in minor units (``ValueError`` if ``amount`` has more
        decimals than the currency allows). A non-final capture sends ``final_capture=false``:
        the PaymentIntent stays ``requires_capture`` with the rest capturable for the order's
        later shipments. That is Stripe multicapture, so for split shipments the channel must
        create the PaymentIntent with ``capture_method=manual`` and
        ``payment_method_options[card][request_multicapture]=if_available`` (and multicapture must
        be granted: ``payment_method_details.card.multicapture.status`` is ``available``);
        otherwise Stripe refuses ``final_capture=false`` and this raises ``PaymentDeclined``. The
        final capture omits ``final_capture``, whose default is ``true``: Stripe releases any
        uncaptured remainder of the authorisation (so the last capture of an order that billed
        less than was authorised frees the difference).

        Returns ``reference`` = the PaymentIntent's ``latest_charge`` (``ch_...``, what finance
        finds in the Dashboard and in payouts), or the PaymentIntent id when Stripe gives none.
        All captures of one multicapture PaymentIntent share that charge, so the reference
        identifies the payment rather than the single capture; the capture itself is the request
        with this invoice's idempotency key. ``amount`` is the amount captured by this call:
        Stripe's ``amount_received`` is cumulative over the PaymentIntent's captures.

        Retrying with the same ``idempotency_key`` (within Stripe's ~24 h key retention) returns
        the first capture's response instead of capturing again."""
        minor = to_minor_units(amount, currency)
        if minor <= 0:
            raise PaymentDeclined("amount_too_small", f"cannot capture {amount} {currency}")
        form = {"amount_to_capture": str(minor)}
        if not final:
            form["final_capture"] = "false"
        intent = self._post(f"/payment_intents/{self._intent_path(authorization_id)}/capture", form,
                            idempotency_key)
        returned_currency = str(intent.get("currency") or currency).upper()
        if returned_currency != currency.upper():
            raise PaymentDeclined("currency_mismatch", f"PaymentIntent {authorization_id} is in {returned_currency}, "
                                                       f"the capture was for {amount} {currency.upper()}")
        return PaymentResult(reference=_charge_id(intent) or str(intent["id"]), status="captured",
                             provider=self.name, amount=from_minor_units(minor, currency))

    def void(self, *, authorization_id: str, idempotency_key: str,
             cancellation_reason: str | None = "requested_by_customer") -> PaymentResult:
        """Cancel the PaymentIntent, releasing its authorisation (the order was cancelled before
        anything was captured). ``cancellation_reason`` is one of ``duplicate``, ``fraudulent``,
        ``requested_by_customer``, ``abandoned``, or ``None`` to send none.

        A PaymentIntent already cancelled (including by Stripe's expiry of uncaptured
        authorisations after 7 days) or already captured raises ``PaymentDeclined``
        (``payment_intent_unexpected_state``). Returns ``reference`` = the PaymentIntent id."""
        form: dict[str, str] = {}
        if cancellation_reason is not None:
            if cancellation_reason not in CANCELLATION_REASONS:
                raise ValueError(f"cancellation_reason must be one of {sorted(CANCELLATION_REASONS)}")
            form["cancellation_reason"] = cancellation_reason
        intent = self._post(f"/payment_intents/{self._intent_path(authorization_id)}/cancel", form, idempotency_key)
        return PaymentResult(reference=str(intent["id"]), status="voided", provider=self.name)

    # -- HTTP ------------------------------------------------------------------------------
    @staticmethod
    def _intent_path(authorization_id: str) -> str:
        if not authorization_id.startswith("pi_"):
            raise PaymentDeclined("invalid_authorization",
                                  f"{authorization_id!r} is not a Stripe PaymentIntent id (pi_...)")
        return urllib.parse.quote(authorization_id, safe="")

    def _headers(self, idempotency_key: str) -> dict[str, str]:
        if not idempotency_key or len(idempotency_key) > 255:
            raise ValueError("an idempotency key of 1 to 255 characters is required")
        headers = {
            "Authorization": f"Bearer {self._api_key}",
            "Idempotency-Key": idempotency_key,
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
            "User-Agent": "oms-invoice-stripe-adapter",
        }
        if self._api_version:
            headers["Stripe-Version"] = self._api_version
        return headers

    def _post(self, path: str, form: Mapping[str, str], idempotency_key: str) -> dict[str, Any]:
        headers = self._headers(idempotency_key)
        body = urllib.parse.urlencode(form).encode()
        status, raw = self._transport("POST", f"{self._base_url}{path}", headers, body)
        payload = _json(raw)
        if 200 <= status < 300:
            if not isinstance(payload, dict) or not isinstance(payload.get("id"), str):
                raise TransientError(f"Stripe answered {status} to POST {path} without a PaymentIntent")
            return payload
        raise self._error(status, payload, path)

    def _error(self, status: int, payload: Any, path: str) -> Exception:
        error = payload.get("error") if isinstance(payload, dict) else None
        error = error if isinstance(error, dict) else {}
        kind = _text(error.get("type"))
        code = _text(error.get("code")) or kind or f"http_{status}"
        if status in (401, 403):
            # Stripe's message for these quotes (part of) the key: leave it out.
            return RuntimeError(f"Stripe refused the API key ({status} {code}) on POST {path}: the payment "
                                "provider is misconfigured (wrong, revoked or under-privileged key)")
        message = self._scrub(_text(error.get("message")) or f"HTTP {status} from Stripe")
        if decline := _text(error.get("decline_code")):
            message = f"{message} (decline_code: {decline})"
        if status in (424, 429) or not 400 <= status < 500 or code in RETRYABLE_CODES:
            return TransientError(f"Stripe {status} {code} on POST {path}: {message}")
        return PaymentDeclined(code, message)

    def _scrub(self, text: str) -> str:
        return text.replace(self._api_key, "[api key]")


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw.decode("utf-8")) if raw else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _charge_id(intent: Mapping[str, Any]) -> str | None:
    """``latest_charge`` is an id, or the Charge itself when expanded."""
    charge = intent.get("latest_charge")
    if isinstance(charge, dict):
        charge = charge.get("id")
    return charge if isinstance(charge, str) and charge else None


if TYPE_CHECKING:  # the adapter satisfies the port
    _port: PaymentProvider = StripePaymentProvider("sk_test_typecheck")

__all__ = ["StripePaymentProvider", "Transport", "from_minor_units", "to_minor_units", "urllib_transport"]
