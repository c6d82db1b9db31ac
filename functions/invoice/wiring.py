"""Composition root of the invoice capability, built once per container on first use."""

from __future__ import annotations

from functools import cache, partial
from typing import TYPE_CHECKING

from functions.core.adapters.aws import secret
from functions.core.adapters.event_bus import EventBridgePublisher
from functions.core.adapters.order_reader import OrderTableReader
from functions.core.adapters.workflows import StepFunctionsStarter
from functions.core.settings import Settings, settings

from .adapters.credit_note_table import CreditNoteTable
from .adapters.invoice_table import InvoiceTable
from .adapters.local_payments import LocalPaymentProvider
from .invoicing import InvoiceService
from .ports import PaymentProvider
from .refunding import RefundService

if TYPE_CHECKING:
    from .adapters.document_queue import DocumentQueue
    from .document_queries import DocumentQueries
    from .receivables import ReceivablesService
    from .rendering import RenderService


def invoice_service() -> InvoiceService:
    return _invoice_service(settings())


def refund_service() -> RefundService:
    return _refund_service(settings())


def invoicing_starter() -> StepFunctionsStarter:
    return _starter(settings())


def return_processing_starter() -> StepFunctionsStarter:
    return _return_starter(settings())


def finance_publisher() -> EventBridgePublisher:
    return _publisher(settings())


def render_service() -> RenderService:
    return _render_service(settings())


def render_queue() -> DocumentQueue:
    return _render_queue(settings())


@cache
def _render_service(s: Settings) -> RenderService:
    # imported here: only the render function loads the PDF and XML libraries
    from .adapters.document_bucket import DocumentBucket
    from .adapters.facturx_pdf import render
    from .rendering import RenderService

    return RenderService(orders=OrderTableReader(s.table_name), store=DocumentBucket(s.table_name, s.document_bucket),
                         render=render)


@cache
def _render_queue(s: Settings) -> DocumentQueue:
    from .adapters.document_queue import DocumentQueue

    return DocumentQueue(s.document_queue_url)


def document_queries() -> DocumentQueries:
    return _document_queries(settings())


@cache
def _document_queries(s: Settings) -> DocumentQueries:
    # imported here: only the invoice API reads documents
    from .adapters.document_bucket import DocumentBucket
    from .adapters.document_index import DocumentIndexTable
    from .document_queries import DocumentQueries

    if not s.legal_entity:
        raise ValueError("LEGAL_ENTITY is not set")
    return DocumentQueries(orders=OrderTableReader(s.table_name), index=DocumentIndexTable(s.table_name),
                           links=DocumentBucket(s.table_name, s.document_bucket), legal_entity=s.legal_entity)


def receivables_service(table_name: str | None = None) -> ReceivablesService:
    """On-account receivables of this function's table, or of ``table_name`` (``oms customers``
    and the local seed, which know a stack by its outputs)."""
    return _receivables_service(table_name or settings().table_name)


@cache
def _receivables_service(table_name: str) -> ReceivablesService:
    # imported here: only the invoice API (and the operator's tools) record payments and balances
    from .adapters.document_index import DocumentIndexTable
    from .adapters.receivable_table import ReceivableTable
    from .receivables import ReceivablesService

    return ReceivablesService(store=ReceivableTable(table_name), orders=OrderTableReader(table_name),
                              index=DocumentIndexTable(table_name))


#: How long a read of the provider's API key is kept (Powertools' cache): a key rotated in the
#: provider's dashboard and put into the secret is used within this many seconds.
SECRET_MAX_AGE_SECONDS = 300


def payment_provider(name: str, secret_name: str = "") -> PaymentProvider:
    """The environment's provider, by name. ``local`` makes no network call (the local
    environment only). ``stripe`` is imported here and only here, so that no other provider
    loads the library; its API key is read from the secret ``secret_name`` at the first
    payment call (not at import, not when this is built) and cached for
    ``SECRET_MAX_AGE_SECONDS`` by Powertools Parameters."""
    if name == "local":
        return LocalPaymentProvider()
    if name == "stripe":
        if not secret_name:
            raise ValueError("PAYMENT_SECRET_NAME is not set: the stripe provider reads its API key from it")
        from .adapters.stripe import StripePaymentProvider  # the library only when used

        return StripePaymentProvider(partial(_secret, secret_name))
    raise ValueError(f"PAYMENT_PROVIDER={name!r} is not a provider (use 'local' or 'stripe')")


def _secret(name: str) -> str:
    value = secret(name, max_age=SECRET_MAX_AGE_SECONDS)
    if not isinstance(value, str) or not value.strip():
        raise RuntimeError(f"the secret {name} holds no API key: put the provider's key into it")
    return value.strip()


@cache
def _invoice_service(s: Settings) -> InvoiceService:
    if not s.legal_entity:
        raise ValueError("LEGAL_ENTITY is not set")
    return InvoiceService(orders=OrderTableReader(s.table_name), store=InvoiceTable(s.table_name),
                          payments=_provider(s), legal_entity=s.legal_entity)


@cache
def _refund_service(s: Settings) -> RefundService:
    if not s.legal_entity:
        raise ValueError("LEGAL_ENTITY is not set")
    return RefundService(orders=OrderTableReader(s.table_name), store=CreditNoteTable(s.table_name),
                         payments=_provider(s), legal_entity=s.legal_entity)


@cache
def _provider(s: Settings) -> PaymentProvider:
    """One provider per settings: invoicing and refunds share it (the local one counts its flaky
    attempts; a real one keeps its HTTP client)."""
    return payment_provider(s.payment_provider, s.payment_secret_name)


@cache
def _return_starter(s: Settings) -> StepFunctionsStarter:
    return StepFunctionsStarter(s.return_workflow_arn)


@cache
def _starter(s: Settings) -> StepFunctionsStarter:
    return StepFunctionsStarter(s.invoice_workflow_arn)


@cache
def _publisher(s: Settings) -> EventBridgePublisher:
    return EventBridgePublisher(s.event_bus_name)
