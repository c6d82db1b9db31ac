"""The Stripe adapter (Stripe's own library underneath) against a local server that answers as
Stripe's API documents (tests/integration/stripe_api.py): what moves money, what is refused,
what is retried — and that the API key comes from Secrets Manager at the first call.

The library's own retries are set per test (``max_network_retries``): 0 where a test counts
what one failure does, 1 (the deployed default) where it shows the library retrying a 5xx with
the same idempotency key. The library sleeps 0.5–1 s before a retry.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from decimal import Decimal
from functools import partial
from typing import Any

import boto3
import pytest

from functions.core.errors import TransientError
from functions.invoice.adapters.stripe import StripePaymentProvider
from functions.invoice.ports import PaymentDeclined
from tests.integration.stripe_api import StripeServer

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def server() -> Iterator[StripeServer]:
    with StripeServer() as running:
        yield running


def provider(server: StripeServer, retries: int = 0, key: str | None = None) -> StripePaymentProvider:
    return StripePaymentProvider(lambda: key or server.stripe.api_key, api_base=server.url,
                                 max_network_retries=retries, timeout=3)


def capture(p: StripePaymentProvider, intent: str, amount: str, key: str, final: bool = True) -> Any:
    return p.capture(authorization_id=intent, amount=Decimal(amount), currency="EUR", idempotency_key=key, final=final)


def test_a_capture_takes_the_amount_in_cents_with_the_idempotency_key(server: StripeServer) -> None:
    intent = server.stripe.intent(3558)
    result = capture(provider(server), intent.id, "35.58", "INV-2026-000001")
    assert (result.status, result.provider, result.amount) == ("captured", "stripe", Decimal("35.58"))
    assert result.reference == intent.latest_charge and result.reference.startswith("ch_")
    (seen,) = server.stripe.requests
    assert seen.path == f"/v1/payment_intents/{intent.id}/capture"
    assert seen.params == {"amount_to_capture": "3558"}  # final: final_capture left at its default (true)
    assert seen.headers["idempotency-key"] == "INV-2026-000001"
    assert intent.status == "succeeded" and intent.amount_received == 3558


def test_multicapture_keeps_the_rest_capturable_until_the_last_capture(server: StripeServer) -> None:
    intent = server.stripe.intent(5000, multicapture=True)
    p = provider(server)
    capture(p, intent.id, "30.00", "INV-2026-000001", final=False)
    assert server.stripe.requests[-1].params == {"amount_to_capture": "3000", "final_capture": "false"}
    assert (intent.status, intent.amount_capturable) == ("requires_capture", 2000)
    capture(p, intent.id, "15.00", "INV-2026-000002", final=True)
    # the last capture released the 5.00 never billed
    assert (intent.status, intent.amount_received, intent.amount_capturable) == ("succeeded", 4500, 0)


def test_a_partial_capture_without_multicapture_is_declined(server: StripeServer) -> None:
    intent = server.stripe.intent(5000)
    with pytest.raises(PaymentDeclined):
        capture(provider(server), intent.id, "30.00", "INV-2026-000001", final=False)
    assert intent.amount_received == 0


def test_the_same_idempotency_key_replays_the_first_answer_and_captures_once(server: StripeServer) -> None:
    intent = server.stripe.intent(1000)
    p = provider(server)
    first = capture(p, intent.id, "10.00", "INV-2026-000007")
    again = capture(p, intent.id, "10.00", "INV-2026-000007")  # the workflow retried the task
    assert again == first and intent.amount_received == 1000
    assert [r.headers["idempotency-key"] for r in server.stripe.requests] == ["INV-2026-000007"] * 2


def test_capturing_a_payment_intent_in_the_wrong_state_is_declined(server: StripeServer) -> None:
    intent = server.stripe.intent(1000)
    p = provider(server)
    capture(p, intent.id, "10.00", "INV-2026-000001")
    with pytest.raises(PaymentDeclined) as refused:
        capture(p, intent.id, "10.00", "INV-2026-000002")  # another invoice, already succeeded
    assert refused.value.code == "payment_intent_unexpected_state" and "succeeded" in refused.value.message
    assert intent.amount_received == 1000


def test_a_card_decline_is_declined_with_its_decline_code(server: StripeServer) -> None:
    intent = server.stripe.intent(1000, decline="insufficient_funds")
    with pytest.raises(PaymentDeclined) as refused:
        capture(provider(server), intent.id, "10.00", "INV-2026-000001")
    assert refused.value.code == "card_declined" and "insufficient_funds" in refused.value.message


def test_more_than_the_authorisation_is_declined(server: StripeServer) -> None:
    intent = server.stripe.intent(1000)
    with pytest.raises(PaymentDeclined) as refused:
        capture(provider(server), intent.id, "10.01", "INV-2026-000001")
    assert refused.value.code == "amount_too_large"


def test_a_rate_limit_is_transient_and_not_retried_by_the_library(server: StripeServer) -> None:
    intent = server.stripe.intent(1000)
    server.stripe.fail_next(429)
    with pytest.raises(TransientError, match="429"):
        capture(provider(server, retries=1), intent.id, "10.00", "INV-2026-000001")
    assert len(server.stripe.requests) == 1  # the workflow's retry (with backoff) is the one that helps
    assert intent.amount_received == 0


@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_server_error_is_transient_and_captures_nothing(server: StripeServer, status: int) -> None:
    intent = server.stripe.intent(1000)
    server.stripe.fail_next(status)
    with pytest.raises(TransientError, match=str(status)):
        capture(provider(server, retries=0), intent.id, "10.00", "INV-2026-000001")
    assert len(server.stripe.requests) == 1 and intent.amount_received == 0
    # the workflow runs the task again, with the same key: captured once
    capture(provider(server, retries=0), intent.id, "10.00", "INV-2026-000001")
    assert intent.amount_received == 1000


def test_the_library_retries_a_server_error_once_with_the_same_key(server: StripeServer) -> None:
    intent = server.stripe.intent(1000)
    server.stripe.fail_next(503)
    result = capture(provider(server, retries=1), intent.id, "10.00", "INV-2026-000001")
    assert result.status == "captured" and intent.amount_received == 1000
    assert [r.headers["idempotency-key"] for r in server.stripe.requests] == ["INV-2026-000001"] * 2


def test_no_answer_at_all_is_transient() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends: nothing listens there
    p = StripePaymentProvider(lambda: "sk_test_x", api_base=f"http://127.0.0.1:{port}", max_network_retries=0,
                              timeout=2)
    with pytest.raises(TransientError):
        capture(p, "pi_test_000001", "10.00", "INV-2026-000001")


def test_a_wrong_key_is_a_misconfiguration_and_never_shows_the_key(server: StripeServer) -> None:
    intent = server.stripe.intent(1000)
    wrong = "sk_test_wrong_key_abcdefgh"
    with pytest.raises(RuntimeError) as refused:
        capture(provider(server, key=wrong), intent.id, "10.00", "INV-2026-000001")
    assert not isinstance(refused.value, TransientError)
    assert wrong not in str(refused.value) and wrong[-4:] not in str(refused.value)


def test_a_void_cancels_the_payment_intent_once(server: StripeServer) -> None:
    intent = server.stripe.intent(1000)
    p = provider(server)
    result = p.void(authorization_id=intent.id, idempotency_key="void-ord_1")
    assert (result.status, result.reference) == ("voided", intent.id)
    assert (intent.status, intent.cancellation_reason) == ("canceled", "requested_by_customer")
    assert server.stripe.requests[-1].path == f"/v1/payment_intents/{intent.id}/cancel"
    assert p.void(authorization_id=intent.id, idempotency_key="void-ord_1") == result  # replayed
    with pytest.raises(PaymentDeclined) as refused:  # a void with another key: already cancelled
        p.void(authorization_id=intent.id, idempotency_key="void-ord_1-again")
    assert refused.value.code == "payment_intent_unexpected_state"


def test_refunds_are_partial_idempotent_and_never_above_what_was_captured(server: StripeServer) -> None:
    intent = server.stripe.intent(5000)
    p = provider(server)
    capture(p, intent.id, "50.00", "INV-2026-000001")
    first = p.refund(payment_reference=intent.id, amount=Decimal("20.00"), currency="EUR", idempotency_key="RET-1")
    assert (first.status, first.amount) == ("refunded", Decimal("20.00")) and first.reference.startswith("re_")
    assert server.stripe.requests[-1].params == {"payment_intent": intent.id, "amount": "2000"}
    again = p.refund(payment_reference=intent.id, amount=Decimal("20.00"), currency="EUR", idempotency_key="RET-1")
    assert again == first and intent.amount_refunded == 2000  # a retry refunds nothing more
    by_charge = p.refund(payment_reference=str(intent.latest_charge), amount=Decimal("30.00"), currency="EUR",
                         idempotency_key="RET-2")
    assert by_charge.reference != first.reference and intent.amount_refunded == 5000
    with pytest.raises(PaymentDeclined) as refused:
        p.refund(payment_reference=intent.id, amount=Decimal("0.01"), currency="EUR", idempotency_key="RET-3")
    assert refused.value.code == "charge_already_refunded"


def test_a_refund_above_what_is_left_is_declined(server: StripeServer) -> None:
    intent = server.stripe.intent(1000)
    p = provider(server)
    capture(p, intent.id, "10.00", "INV-2026-000001")
    with pytest.raises(PaymentDeclined) as refused:
        p.refund(payment_reference=intent.id, amount=Decimal("10.01"), currency="EUR", idempotency_key="RET-1")
    assert refused.value.code == "amount_too_large" and intent.amount_refunded == 0


def test_a_key_reused_with_other_parameters_is_declined(server: StripeServer) -> None:
    intent = server.stripe.intent(5000)
    p = provider(server)
    capture(p, intent.id, "50.00", "INV-2026-000001")
    p.refund(payment_reference=intent.id, amount=Decimal("10.00"), currency="EUR", idempotency_key="RET-1")
    with pytest.raises(PaymentDeclined):
        p.refund(payment_reference=intent.id, amount=Decimal("12.00"), currency="EUR", idempotency_key="RET-1")
    assert intent.amount_refunded == 1000


def test_a_capture_retried_with_final_decided_again_replays_the_first_and_captures_once(server: StripeServer) -> None:
    # Given a multicapture intent whose first capture (not final) reached Stripe, but its answer
    # was lost; meanwhile another shipment settled, so the retry decides final=True
    intent = server.stripe.intent(5000, multicapture=True)
    p = provider(server)
    first = capture(p, intent.id, "30.00", "INV-2026-000001", final=False)
    # When the retry sends the same key with final=True
    again = capture(p, intent.id, "30.00", "INV-2026-000001", final=True)
    # Then Stripe's answer to the first request is replayed: one capture of 30.00, not a decline
    assert again.reference == first.reference and again.amount == Decimal("30.00")
    assert intent.amount_received == 3000 and intent.status == "requires_capture"
    # and a key reused for another amount is still declined
    with pytest.raises(PaymentDeclined):
        capture(p, intent.id, "20.00", "INV-2026-000001", final=True)
    assert intent.amount_received == 3000


def test_the_key_is_read_from_secrets_manager_at_the_first_call_and_kept(server: StripeServer, cloud: Any) -> None:
    """The wiring's key: nothing is read when the provider is built (the secret does not even
    exist yet), the key is read at the first payment call, then served from Powertools' cache
    (max_age): a key rolled into the secret meanwhile is not read again at once."""
    from functions.invoice import wiring

    name = f"oms-test/stripe-api-key-{uuid.uuid4().hex[:8]}"
    built = wiring.payment_provider("stripe", name)  # what a deployed function builds
    assert isinstance(built, StripePaymentProvider)
    p = StripePaymentProvider(partial(wiring._secret, name), api_base=server.url, max_network_retries=0)
    secrets = boto3.client("secretsmanager")
    secrets.create_secret(Name=name, SecretString=server.stripe.api_key)  # the operator puts the key in
    intent = server.stripe.intent(2000, multicapture=True)
    capture(p, intent.id, "10.00", "INV-2026-000001", final=False)
    assert server.stripe.requests[-1].headers["authorization"] == f"Bearer {server.stripe.api_key}"
    secrets.put_secret_value(SecretId=name, SecretString="sk_test_rolled")
    capture(p, intent.id, "10.00", "INV-2026-000002")
    assert server.stripe.requests[-1].headers["authorization"] == f"Bearer {server.stripe.api_key}"
    assert intent.amount_received == 2000
