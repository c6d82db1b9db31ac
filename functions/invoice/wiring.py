"""Composition root of the invoice capability, built once per container on first use."""

from __future__ import annotations

from functools import cache

from functions.core.adapters.event_bus import EventBridgePublisher
from functions.core.adapters.order_reader import OrderTableReader
from functions.core.adapters.workflows import StepFunctionsStarter
from functions.core.settings import Settings, settings

from .adapters.invoice_table import InvoiceTable
from .adapters.local_payments import LocalPaymentProvider
from .invoicing import InvoiceService
from .ports import PaymentProvider


def invoice_service() -> InvoiceService:
    return _invoice_service(settings())


def invoicing_starter() -> StepFunctionsStarter:
    return _starter(settings())


def finance_publisher() -> EventBridgePublisher:
    return _publisher(settings())


def payment_provider(name: str) -> PaymentProvider:
    """The configured provider. Real providers (``adapters/stripe.py``) need
    their credentials wired from a secret; that lands with the finance issue, so every
    environment runs the local provider until then."""
    if name == "local":
        return LocalPaymentProvider()
    raise ValueError(f"PAYMENT_PROVIDER={name!r} is not configured in this release (use 'local')")


@cache
def _invoice_service(s: Settings) -> InvoiceService:
    if not s.legal_entity:
        raise ValueError("LEGAL_ENTITY is not set")
    return InvoiceService(orders=OrderTableReader(s.table_name), store=InvoiceTable(s.table_name),
                          payments=payment_provider(s.payment_provider),
                          legal_entity=s.legal_entity)


@cache
def _starter(s: Settings) -> StepFunctionsStarter:
    return StepFunctionsStarter(s.invoice_workflow_arn)


@cache
def _publisher(s: Settings) -> EventBridgePublisher:
    return EventBridgePublisher(s.event_bus_name)
