"""Payments as finance and the customer notice them: a free shipment settles without the
provider, the last real capture releases the authorisation, refunds are partial and repeat
safely, a failure's reason is short and only agents and finance see it, and the Stripe library
is loaded only where the provider is Stripe."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from decimal import Decimal

import pytest

from functions.capture.views import order_view
from functions.core.errors import TransientError
from functions.core.invoices import PaymentStatus
from functions.core.orders import OrderStatus, TimelineEntry
from functions.invoice.adapters.local_payments import LocalPaymentProvider
from functions.invoice.invoicing import CAUSE_LIMIT, short_cause
from functions.invoice.ports import PaymentDeclined
from functions.invoice.wiring import payment_provider
from tests.unit.test_invoicing import FakeInvoiceStore, names, order_with, service_for

CARD = {"method": "card", "authorization_id": "auth_8xk2", "amount": "99.00"}
PRICED_AND_GIFT = [{"sku": "MUG", "quantity": 1, "unit_price": "20.00"},
                   {"sku": "GIFT", "quantity": 1, "unit_price": "0.00"}]


# -- a 0.00 invoice ----------------------------------------------------------------------------

def test_a_free_gift_shipped_after_the_priced_shipment_completes_the_order_without_the_provider() -> None:
    order = order_with(PRICED_AND_GIFT, [[1, 0], [0, 1]], payment=CARD)
    service, store, provider = service_for(order)
    priced, gift = order.shipments
    first = service.invoice_shipment(order.order_id, priced.shipment_id)
    assert (first["payment"], first["completed"]) == ("captured", False)
    second = service.invoice_shipment(order.order_id, gift.shipment_id)
    assert (second["gross"], second["payment"], second["completed"]) == ("0.00", "nothing_to_capture", True)
    (captured,) = provider.captures  # the provider was never asked to capture 0.00
    # the priced capture took the order's whole total, so it released the authorisation
    assert captured["amount"] == order.totals.total and captured["final"] is True
    done = store.orders[order.order_id]
    assert done.status == OrderStatus.COMPLETED
    assert [i.payment_status for i in done.invoices] == [PaymentStatus.CAPTURED] * 2
    assert done.invoices[1].payment_reference is None
    assert names(store).count("PaymentCaptured") == 1 and names(store).count("OrderCompleted") == 1


def test_a_free_gift_shipped_first_carries_the_shipping_and_the_priced_capture_is_final() -> None:
    order = order_with(PRICED_AND_GIFT, [[0, 1], [1, 0]], payment=CARD)
    service, _, provider = service_for(order)
    gift, priced = order.shipments
    assert service.invoice_shipment(order.order_id, gift.shipment_id)["payment"] == "captured"  # the shipping
    assert service.invoice_shipment(order.order_id, priced.shipment_id)["completed"] is True
    assert [c["final"] for c in provider.captures] == [False, True]
    assert sum(c["amount"] for c in provider.captures) == order.totals.total


def test_a_free_invoice_settles_once_however_often_it_runs() -> None:
    order = order_with(PRICED_AND_GIFT, [[1, 0], [0, 1]], payment=CARD)
    service, store, provider = service_for(order)
    for shipment in (*order.shipments, *order.shipments):
        service.invoice_shipment(order.order_id, shipment.shipment_id)
    assert len(provider.captures) == 1 and names(store).count("OrderCompleted") == 1


def test_a_split_priced_order_still_keeps_the_rest_capturable_until_its_last_capture() -> None:
    order = order_with([{"sku": "A", "quantity": 2, "unit_price": "10.00"}], [[1, 1]], payment=CARD)
    service, _, provider = service_for(order)
    for shipment in order.shipments:
        service.invoice_shipment(order.order_id, shipment.shipment_id)
    assert [c["final"] for c in provider.captures] == [False, True]


# -- refunds (local provider) ----------------------------------------------------------------

def test_local_refunds_are_partial_and_a_repeat_is_the_same_refund() -> None:
    local = LocalPaymentProvider()
    first = local.refund(payment_reference="auth_8xk2", amount=Decimal("5.00"), currency="EUR",
                         idempotency_key="RET-1-1")
    again = local.refund(payment_reference="auth_8xk2", amount=Decimal("5.00"), currency="EUR",
                         idempotency_key="RET-1-1")
    other = local.refund(payment_reference="auth_8xk2", amount=Decimal("2.50"), currency="EUR",
                         idempotency_key="RET-1-2")
    assert again == first and (first.status, first.amount, first.provider) == ("refunded", Decimal("5.00"), "local")
    assert other.reference != first.reference and other.amount == Decimal("2.50")


@pytest.mark.parametrize(("reference", "amount", "code"), [
    ("auth_8xk2", "0.00", "amount_too_small"),
    ("auth_decline_expired", "5.00", "charge_not_captured"),
])
def test_local_refunds_of_nothing_or_of_a_declined_payment_are_refused(reference: str, amount: str,
                                                                       code: str) -> None:
    with pytest.raises(PaymentDeclined) as refused:
        LocalPaymentProvider().refund(payment_reference=reference, amount=Decimal(amount), currency="EUR",
                                      idempotency_key="RET-1")
    assert refused.value.code == code


def test_a_flaky_local_authorisation_fails_transiently_twice_then_captures_once() -> None:
    local = LocalPaymentProvider()
    attempt = {"authorization_id": "auth_flaky_1", "amount": Decimal("5.00"), "currency": "EUR",
               "idempotency_key": "INV-2026-000001", "final": True}
    for _ in range(2):
        with pytest.raises(TransientError):
            local.capture(**attempt)  # type: ignore[arg-type]
    captured = local.capture(**attempt)  # type: ignore[arg-type]
    assert captured.status == "captured" and local.capture(**attempt) == captured  # type: ignore[arg-type]
    with pytest.raises(TransientError):  # another invoice of the same authorisation starts over
        local.capture(**{**attempt, "idempotency_key": "INV-2026-000002"})  # type: ignore[arg-type]


# -- the failure's reason ------------------------------------------------------------------------

LAMBDA_CAUSE = json.dumps({
    "errorMessage": "card_declined: authorisation auth_decline_expired was declined",
    "errorType": "PaymentDeclined", "requestId": "7f0c",
    "stackTrace": ['  File "/var/task/functions/invoice/invoicing.py", line 160, in _settle\n    capture = '
                   'self.payments.capture(\n'],
})


class RecordingFlags(FakeInvoiceStore):
    def __init__(self, *orders: object) -> None:
        super().__init__(*orders)  # type: ignore[arg-type]
        self.errors: list[str] = []

    def flag(self, order_id: str, shipment_id: str, invoice_number: str | None, reason: str, error: str,
             entry: TimelineEntry) -> bool:
        self.errors.append(error)
        return super().flag(order_id, shipment_id, invoice_number, reason, error, entry)


def test_finance_is_told_the_providers_reason_never_the_stack_trace() -> None:
    order = order_with([{"sku": "A", "quantity": 1, "unit_price": "1.00"}], [[1]])
    service, _, _ = service_for(order)
    store = RecordingFlags(order)
    service = replace(service, orders=store, store=store)
    result = service.flag(order.order_id, order.shipments[0].shipment_id, None,
                          {"Error": "PaymentDeclined", "Cause": LAMBDA_CAUSE})
    assert result["reason"] == "PaymentDeclined"
    assert store.errors == ["card_declined: authorisation auth_decline_expired was declined"]


@pytest.mark.parametrize("cause", [
    "Traceback (most recent call last):\n  File \"x.py\", line 1\nKeyError: 'x'",
    json.dumps({"errorMessage": "x" * 5000, "stackTrace": ["File y"]}),
    "{not json",
    None,
])
def test_a_cause_is_kept_short_and_on_one_line(cause: str | None) -> None:
    short = short_cause(cause)
    assert len(short) <= CAUSE_LIMIT and "\n" not in short and "File" not in short and "stackTrace" not in short


def flagged_order() -> object:
    order = order_with([{"sku": "A", "quantity": 1, "unit_price": "1.00"}], [[1]])
    shipment_id = order.shipments[0].shipment_id
    entry = TimelineEntry(at="2026-11-23T10:00:00.000Z", event="FinanceReviewRequired",
                          detail={"shipment_id": shipment_id, "invoice_number": "INV-2026-000001",
                                  "reason": "PaymentDeclined"})
    return replace(order, timeline=(*order.timeline, entry), finance_reviews=(
        {"shipment_id": shipment_id, "reason": "PaymentDeclined", "error": "card_declined: declined",
         "at": entry.at},))


def test_a_channel_sees_no_reason_for_a_failed_payment() -> None:
    view = json.dumps(order_view(flagged_order(), "channel"))  # type: ignore[arg-type]
    assert "PaymentDeclined" not in view and "card_declined" not in view
    assert '"finance_review": []' in view and "FinanceReviewRequired" in view  # the fact, not the reason


@pytest.mark.parametrize("role", ["agent", "finance"])
def test_agents_and_finance_see_the_short_reason(role: str) -> None:
    view = order_view(flagged_order(), role)  # type: ignore[arg-type]
    (review,) = view["finance_review"]
    assert (review["reason"], review["error"]) == ("PaymentDeclined", "card_declined: declined")


# -- wiring -----------------------------------------------------------------------------------------

def test_the_local_provider_never_loads_the_stripe_library() -> None:
    code = ("import sys\n"
            "import functions.invoice.handlers.invoice_shipment, functions.invoice.handlers.flag\n"
            "import functions.invoice.handlers.stream, functions.invoice.wiring as w\n"
            "import functions.capture.handlers.api\n"
            "w.payment_provider('local')\n"
            "print(sorted(m for m in sys.modules if m == 'stripe' or m.startswith('stripe.')))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True,
                         env={"PATH": "", "AWS_DEFAULT_REGION": "eu-central-1", "TABLE_NAME": "t"})
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_the_stripe_provider_loads_the_library_and_reads_no_key_when_built() -> None:
    code = ("import sys, functions.invoice.wiring as w\n"
            "w._secret = lambda name: (_ for _ in ()).throw(AssertionError('read at build'))\n"
            "p = w.payment_provider('stripe', 'oms-dev/stripe-api-key')\n"
            "print(p.name, 'stripe' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True,
                         env={"PATH": "", "AWS_DEFAULT_REGION": "eu-central-1"})
    assert out.stdout.strip() == "stripe True", out.stdout + out.stderr


@pytest.mark.parametrize(("name", "secret", "problem"), [
    ("paypal", "", "not a provider"),
    ("stripe", "", "PAYMENT_SECRET_NAME"),
])
def test_a_provider_that_cannot_work_is_refused_by_name(name: str, secret: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        payment_provider(name, secret)
