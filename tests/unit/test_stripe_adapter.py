"""The Stripe adapter against a recording transport: the exact requests it sends to Stripe's
REST API, how it reads Stripe's answers, and how Stripe's errors become the port's errors."""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest

from functions.core.errors import TransientError
from functions.invoice.adapters.stripe import (
    StripePaymentProvider,
    from_minor_units,
    to_minor_units,
    urllib_transport,
)
from functions.invoice.ports import PaymentDeclined, PaymentResult

API_KEY = "sk_test_51Hq2ZTopSecretKeyValue0123456789"
PI = "pi_3MrPBM2eZvKYlo2C1TEMacFD"
CHARGE = "ch_3MrPBM2eZvKYlo2C1tK7Mw2d"


def payment_intent(**changes: Any) -> dict[str, Any]:
    """A PaymentIntent as Stripe returns it from a capture (trimmed from the API reference)."""
    intent: dict[str, Any] = {
        "id": PI, "object": "payment_intent", "amount": 5000, "amount_capturable": 0,
        "amount_details": {"tip": {}}, "amount_received": 3558, "application": None,
        "application_fee_amount": None, "automatic_payment_methods": None, "canceled_at": None,
        "cancellation_reason": None, "capture_method": "manual",
        "client_secret": f"{PI}_secret_9J35eTzWlxVmfbbQhmkNbewuL", "confirmation_method": "automatic",
        "created": 1524505326, "currency": "eur", "customer": None, "description": "Order ORD-1",
        "last_payment_error": None, "latest_charge": CHARGE, "livemode": False,
        "metadata": {"order_id": "ORD-1"}, "next_action": None, "on_behalf_of": None,
        "payment_method": "pm_1EUmyr2x6R10KRrhRLWUEu3T",
        "payment_method_options": {"card": {"request_multicapture": "if_available",
                                            "request_three_d_secure": "automatic"}},
        "payment_method_types": ["card"], "processing": None, "receipt_email": None, "review": None,
        "setup_future_usage": None, "shipping": None, "source": None, "statement_descriptor": None,
        "statement_descriptor_suffix": None, "status": "succeeded", "transfer_data": None,
        "transfer_group": None,
    }
    intent.update(changes)
    return intent


def stripe_error(kind: str, code: str | None, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"type": kind, "code": code, "message": message, "doc_url": "https://stripe.com/docs/error-codes",
                      "request_log_url": "https://dashboard.stripe.com/test/logs/req_1", **extra}}


@dataclass
class Request:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes

    @property
    def form(self) -> dict[str, str]:
        return dict(urllib.parse.parse_qsl(self.body.decode(), strict_parsing=True)) if self.body else {}


@dataclass
class FakeStripe:
    """A transport that records each request and answers with the queued ``(status, json)``."""

    answers: list[tuple[int, Any]] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)

    def __call__(self, method: str, url: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        self.requests.append(Request(method, url, dict(headers), body))
        status, payload = self.answers.pop(0)
        return status, payload if isinstance(payload, bytes) else json.dumps(payload).encode()


def provider(*answers: tuple[int, Any], **kwargs: Any) -> tuple[StripePaymentProvider, FakeStripe]:
    fake = FakeStripe(list(answers))
    return StripePaymentProvider(API_KEY, transport=fake, **kwargs), fake


def capture(p: StripePaymentProvider, amount: str = "35.58", currency: str = "EUR", final: bool = True,
            key: str = "INV-DE01-2025-000042") -> PaymentResult:
    return p.capture(authorization_id=PI, amount=Decimal(amount), currency=currency, idempotency_key=key, final=final)


# -- capture: the request ------------------------------------------------------------------
def test_a_final_capture_posts_the_amount_in_minor_units_to_the_capture_endpoint() -> None:
    p, fake = provider((200, payment_intent()))
    capture(p)
    [request] = fake.requests
    assert request.method == "POST"
    assert request.url == f"https://api.stripe.com/v1/payment_intents/{PI}/capture"
    assert request.form == {"amount_to_capture": "3558"}  # final_capture defaults to true: left out
    assert request.body == b"amount_to_capture=3558"


def test_a_non_final_capture_asks_stripe_to_keep_the_rest_capturable() -> None:
    p, fake = provider((200, payment_intent(status="requires_capture", amount_capturable=1442)))
    capture(p, final=False)
    assert fake.requests[0].form == {"amount_to_capture": "3558", "final_capture": "false"}


def test_capture_headers_carry_the_bearer_key_the_idempotency_key_and_the_form_type() -> None:
    p, fake = provider((200, payment_intent()))
    capture(p, key="INV-DE01-2025-000042")
    headers = fake.requests[0].headers
    assert headers["Authorization"] == f"Bearer {API_KEY}"
    assert headers["Idempotency-Key"] == "INV-DE01-2025-000042"
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert "Stripe-Version" not in headers  # the account's default API version


def test_a_pinned_api_version_is_sent_as_stripe_version() -> None:
    p, fake = provider((200, payment_intent()), api_version="2025-04-30.basil")
    capture(p)
    assert fake.requests[0].headers["Stripe-Version"] == "2025-04-30.basil"


def test_base_url_is_configurable_for_stripe_mock_or_a_proxy() -> None:
    p, fake = provider((200, payment_intent()), base_url="http://localhost:12111/v1/")
    capture(p)
    assert fake.requests[0].url == f"http://localhost:12111/v1/payment_intents/{PI}/capture"


def test_a_retry_sends_the_identical_request_so_stripe_replays_its_saved_answer() -> None:
    p, fake = provider((200, payment_intent()), (200, payment_intent()))
    first, again = capture(p), capture(p)
    assert first == again
    assert fake.requests[0] == fake.requests[1]


# -- capture: the answer -------------------------------------------------------------------
def test_a_capture_returns_the_charge_as_reference_and_the_amount_captured() -> None:
    p, _ = provider((200, payment_intent()))
    assert capture(p) == PaymentResult(reference=CHARGE, status="captured", provider="stripe",
                                       amount=Decimal("35.58"))


def test_the_amount_is_this_capture_not_the_cumulative_amount_received() -> None:
    # second shipment of a multicapture PaymentIntent: amount_received counts both captures
    p, _ = provider((200, payment_intent(amount_received=5000, status="succeeded")))
    result = capture(p, amount="14.42")
    assert result.amount == Decimal("14.42")


def test_an_expanded_latest_charge_is_read_by_its_id() -> None:
    p, _ = provider((200, payment_intent(latest_charge={"id": CHARGE, "object": "charge"})))
    assert capture(p).reference == CHARGE


def test_without_a_charge_the_reference_is_the_payment_intent() -> None:
    p, _ = provider((200, payment_intent(latest_charge=None)))
    assert capture(p).reference == PI


def test_a_payment_intent_in_another_currency_is_refused_loudly() -> None:
    p, _ = provider((200, payment_intent(currency="usd")))
    with pytest.raises(PaymentDeclined) as caught:
        capture(p, currency="EUR")
    assert caught.value.code == "currency_mismatch"


def test_a_success_status_without_a_payment_intent_is_transient() -> None:
    p, _ = provider((200, b"<html>gateway</html>"))
    with pytest.raises(TransientError):
        capture(p)


# -- minor units ---------------------------------------------------------------------------
@pytest.mark.parametrize(("amount", "currency", "minor"), [
    ("35.58", "EUR", 3558), ("35.58", "eur", 3558), ("35.5", "GBP", 3550), ("35.580", "USD", 3558),
    ("0.01", "CHF", 1), ("1999", "SEK", 199900), ("12.34", "DKK", 1234), ("100.10", "PLN", 10010),
    ("250", "CZK", 25000), ("1200", "JPY", 1200), ("1E+3", "JPY", 1000), ("50000", "KRW", 50000),
    ("1.25", "KWD", 1250), ("5", "ISK", 500),
])
def test_amounts_convert_exactly_to_minor_units(amount: str, currency: str, minor: int) -> None:
    assert to_minor_units(Decimal(amount), currency) == minor
    assert from_minor_units(minor, currency) == Decimal(amount)


@pytest.mark.parametrize(("amount", "currency"), [
    ("35.585", "EUR"), ("0.001", "USD"), ("1200.5", "JPY"), ("0.1", "KRW"), ("1.255", "KWD"), ("5.50", "ISK"),
])
def test_amounts_finer_than_the_currency_allows_are_refused_not_rounded(amount: str, currency: str) -> None:
    with pytest.raises(ValueError, match=r"allows|only"):
        to_minor_units(Decimal(amount), currency)


@pytest.mark.parametrize("amount", [Decimal("NaN"), Decimal("Infinity"), 35.58])
def test_non_finite_or_float_amounts_are_refused(amount: Any) -> None:
    with pytest.raises(ValueError, match="not a finite Decimal"):
        to_minor_units(amount, "EUR")


def test_a_capture_with_too_many_decimals_sends_nothing() -> None:
    p, fake = provider()
    with pytest.raises(ValueError, match="more decimals"):
        capture(p, amount="35.585")
    assert fake.requests == []


def test_a_zero_capture_is_declined_without_a_request() -> None:
    p, fake = provider()
    with pytest.raises(PaymentDeclined) as caught:
        capture(p, amount="0.00")
    assert caught.value.code == "amount_too_small"
    assert fake.requests == []


def test_an_authorisation_that_is_not_a_payment_intent_is_declined_without_a_request() -> None:
    p, fake = provider()
    with pytest.raises(PaymentDeclined) as caught:
        p.capture(authorization_id="ch_123/../refunds", amount=Decimal("1"), currency="EUR", idempotency_key="k",
                  final=True)
    assert caught.value.code == "invalid_authorization"
    assert fake.requests == []


# -- errors --------------------------------------------------------------------------------
def test_a_card_decline_is_declined_with_its_code_and_decline_code() -> None:
    p, _ = provider((402, stripe_error("card_error", "card_declined", "Your card was declined.",
                                       decline_code="insufficient_funds", payment_intent=payment_intent())))
    with pytest.raises(PaymentDeclined) as caught:
        capture(p)
    assert caught.value.code == "card_declined"
    assert caught.value.message == "Your card was declined. (decline_code: insufficient_funds)"


def test_capturing_a_payment_intent_in_the_wrong_state_is_declined() -> None:
    message = ("This PaymentIntent could not be captured because it has a status of canceled. "
               "Only a PaymentIntent with one of the following statuses may be captured: requires_capture.")
    p, _ = provider((400, stripe_error("invalid_request_error", "payment_intent_unexpected_state", message)))
    with pytest.raises(PaymentDeclined) as caught:
        capture(p)
    assert (caught.value.code, caught.value.message) == ("payment_intent_unexpected_state", message)


@pytest.mark.parametrize(("status", "body", "code"), [
    (400, stripe_error("invalid_request_error", "amount_too_large",
                       "The amount to capture must be less than or equal to the amount capturable."),
     "amount_too_large"),
    (404, stripe_error("invalid_request_error", "resource_missing", f"No such payment_intent: '{PI}'"),
     "resource_missing"),
    (400, stripe_error("idempotency_error", None, "Keys for idempotent requests can only be used with the same "
                                                  "parameters they were first used with."), "idempotency_error"),
    (409, stripe_error("idempotency_error", None, "The request conflicts with another request."), "idempotency_error"),
    (400, b"not json", "http_400"),
])
def test_other_refusals_are_declined_and_not_retried(status: int, body: Any, code: str) -> None:
    p, _ = provider((status, body))
    with pytest.raises(PaymentDeclined) as caught:
        capture(p)
    assert caught.value.code == code


@pytest.mark.parametrize(("status", "body"), [
    (429, stripe_error("invalid_request_error", "rate_limit", "Too many requests hit the API too quickly.")),
    (429, stripe_error("invalid_request_error", "lock_timeout", "This object cannot be accessed right now.")),
    (409, stripe_error("idempotency_error", "idempotency_key_in_use",
                       "There is currently another in-progress request using this Idempotent Key.")),
    (500, stripe_error("api_error", None, "Something went wrong on Stripe's end.")),
    (502, b"<html>Bad gateway</html>"),
    (503, b""),
    (504, b"upstream timeout"),
])
def test_rate_limits_concurrent_keys_and_server_errors_are_transient(status: int, body: Any) -> None:
    p, _ = provider((status, body))
    with pytest.raises(TransientError, match=str(status)):
        capture(p)


@pytest.mark.parametrize(("status", "body"), [
    (401, stripe_error("invalid_request_error", None, f"Invalid API Key provided: {API_KEY}")),
    (403, stripe_error("invalid_request_error", "secret_key_required",
                       f"The provided key '{API_KEY}' does not have the required permissions for this endpoint.")),
])
def test_a_rejected_key_is_a_misconfiguration_and_never_shows_the_key(status: int, body: Any) -> None:
    p, _ = provider((status, body))
    with pytest.raises(RuntimeError) as caught:
        capture(p)
    assert not isinstance(caught.value, TransientError | PaymentDeclined)
    assert "misconfigured" in str(caught.value)
    assert API_KEY not in str(caught.value)
    assert API_KEY[-8:] not in str(caught.value)


def test_the_key_is_scrubbed_from_any_error_message_and_kept_out_of_repr() -> None:
    p, _ = provider((400, stripe_error("invalid_request_error", "parameter_invalid", f"bad {API_KEY}")))
    with pytest.raises(PaymentDeclined) as caught:
        capture(p)
    assert API_KEY not in str(caught.value)
    assert API_KEY not in repr(p)


# -- void ----------------------------------------------------------------------------------
def test_a_void_cancels_the_payment_intent_with_a_reason() -> None:
    p, fake = provider((200, payment_intent(status="canceled", cancellation_reason="requested_by_customer",
                                            latest_charge=None, amount_received=0, canceled_at=1524505400)))
    result = p.void(authorization_id=PI, idempotency_key="void-ORD-1")
    assert result == PaymentResult(reference=PI, status="voided", provider="stripe")
    [request] = fake.requests
    assert (request.method, request.url) == ("POST", f"https://api.stripe.com/v1/payment_intents/{PI}/cancel")
    assert request.form == {"cancellation_reason": "requested_by_customer"}
    assert request.headers["Idempotency-Key"] == "void-ORD-1"
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"


def test_a_void_may_give_another_documented_reason_or_none() -> None:
    p, fake = provider((200, payment_intent(status="canceled")), (200, payment_intent(status="canceled")))
    p.void(authorization_id=PI, idempotency_key="void-ORD-1", cancellation_reason="abandoned")
    p.void(authorization_id=PI, idempotency_key="void-ORD-2", cancellation_reason=None)
    assert fake.requests[0].form == {"cancellation_reason": "abandoned"}
    assert fake.requests[1].body == b""
    with pytest.raises(ValueError, match="cancellation_reason"):
        p.void(authorization_id=PI, idempotency_key="void-ORD-3", cancellation_reason="out_of_stock")


def test_voiding_a_payment_intent_already_captured_or_expired_is_declined() -> None:
    p, _ = provider((400, stripe_error("invalid_request_error", "payment_intent_unexpected_state",
                                       "You cannot cancel this PaymentIntent because it has a status of succeeded.")))
    with pytest.raises(PaymentDeclined) as caught:
        p.void(authorization_id=PI, idempotency_key="void-ORD-1")
    assert caught.value.code == "payment_intent_unexpected_state"


def test_a_void_hitting_a_server_error_is_transient() -> None:
    p, _ = provider((503, b""))
    with pytest.raises(TransientError):
        p.void(authorization_id=PI, idempotency_key="void-ORD-1")


# -- construction --------------------------------------------------------------------------
@pytest.mark.parametrize(("kwargs", "problem"), [
    ({"api_key": ""}, "API key"), ({"api_key": "  "}, "API key"), ({"base_url": "ftp://api.stripe.com"}, "base_url"),
    ({"timeout": 0}, "timeout"),
])
def test_bad_configuration_is_refused(kwargs: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        StripePaymentProvider(**({"api_key": API_KEY} | kwargs))


# -- the default transport (urlopen patched: the unit tier has no sockets) ----------------
class FakeResponse(io.BytesIO):
    status = 200


def test_the_default_transport_returns_status_and_body(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[urllib.request.Request, float]] = []

    def urlopen(request: urllib.request.Request, timeout: float) -> FakeResponse:
        seen.append((request, timeout))
        return FakeResponse(json.dumps(payment_intent()).encode())

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    p = StripePaymentProvider(API_KEY, timeout=4.5, api_version="2025-04-30.basil")
    assert capture(p, final=False).reference == CHARGE
    [(request, timeout)] = seen
    assert timeout == 4.5
    assert request.get_method() == "POST"
    assert request.full_url == f"https://api.stripe.com/v1/payment_intents/{PI}/capture"
    assert request.data == b"amount_to_capture=3558&final_capture=false"
    assert request.get_header("Authorization") == f"Bearer {API_KEY}"
    assert request.get_header("Idempotency-key") == "INV-DE01-2025-000042"
    assert request.get_header("Stripe-version") == "2025-04-30.basil"


def test_the_default_transport_returns_http_error_responses(monkeypatch: pytest.MonkeyPatch) -> None:
    body = json.dumps(stripe_error("card_error", "card_declined", "Your card was declined.")).encode()

    def urlopen(request: urllib.request.Request, timeout: float) -> FakeResponse:
        raise urllib.error.HTTPError(request.full_url, 402, "Payment Required", None, io.BytesIO(body))

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    assert urllib_transport("POST", "https://api.stripe.com/v1/x", {}, b"") == (402, body)
    with pytest.raises(PaymentDeclined) as caught:
        capture(StripePaymentProvider(API_KEY))
    assert caught.value.code == "card_declined"


@pytest.mark.parametrize("failure", [
    urllib.error.URLError(ConnectionRefusedError(111, "Connection refused")),
    urllib.error.URLError(TimeoutError("timed out")),
    TimeoutError("The read operation timed out"),
    ConnectionResetError(104, "Connection reset by peer"),
])
def test_the_default_transport_turns_network_failures_into_transient_errors(
        monkeypatch: pytest.MonkeyPatch, failure: Exception) -> None:
    def urlopen(request: urllib.request.Request, timeout: float) -> FakeResponse:
        raise failure

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    with pytest.raises(TransientError) as caught:
        capture(StripePaymentProvider(API_KEY))
    assert API_KEY not in str(caught.value)


def test_the_default_transport_refuses_non_http_urls() -> None:
    with pytest.raises(ValueError, match="refusing a file URL"):
        urllib_transport("POST", "file:///etc/passwd", {}, b"")
