"""Environment-derived settings, read when needed (never at import: keeps cold starts lean
and tests independent of import order). Three dictionary look-ups: not worth a cache that
could outlive the environment it was read from.

Composition roots cache what they build *per Settings value* (frozen, hashable): in Lambda
that is once per container; a local process that deploys a second stack gets fresh objects."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    table_name: str
    event_bus_name: str
    order_workflow_arn: str
    #: The verified address customer notices come from.
    notice_sender: str = ""
    #: None in AWS; the local cloud's URL when running locally.
    aws_endpoint_url: str | None = None
    #: The shipment_invoicing state machine (started once per dispatched shipment).
    invoice_workflow_arn: str = ""
    #: The return_processing state machine (started once per receipt of a return).
    return_workflow_arn: str = ""
    #: The company that issues invoices (numbers are gapless per legal entity and year).
    legal_entity: str = ""
    #: ``local`` (default) or a real provider's name (functions/invoice/wiring.py).
    payment_provider: str = "local"
    #: The S3 bucket of the rendered invoices and credit notes (PDF and CII XML).
    document_bucket: str = ""
    #: The queue of documents to render (the invoice stream sends one message per new document).
    document_queue_url: str = ""
    #: ``vies`` (the EU's VAT registry, default) or ``local`` (functions/capture/wiring.py).
    vat_registry: str = "vies"
    #: The Secrets Manager secret (ARN) whose value signs the listings' paging tokens.
    paging_key_secret: str = ""
    #: The Secrets Manager secret holding the real provider's API key (unset for ``local``).
    payment_secret_name: str = ""
    #: Seconds after its capture (or its last check) an open order is due for the reconciler.
    reconcile_after_seconds: int = 900
    #: Seconds a notice's claim holds its channels: a SENDING channel older than that was never
    #: recorded (the sender crashed) and may be claimed and sent again (at most twice).
    notice_lease_seconds: int = 300
    #: The notify task function the reconciler invokes to send a notice again.
    notice_function_name: str = ""
    #: The reconciler function (``POST /orders/{id}/resume`` asks it to resume one order).
    reconcile_function_name: str = ""


def settings() -> Settings:
    return Settings(
        table_name=os.environ["TABLE_NAME"],
        event_bus_name=os.environ.get("EVENT_BUS_NAME", ""),
        order_workflow_arn=os.environ.get("ORDER_WORKFLOW_ARN", ""),
        notice_sender=os.environ.get("NOTICE_SENDER", ""),
        aws_endpoint_url=os.environ.get("AWS_ENDPOINT_URL"),
        invoice_workflow_arn=os.environ.get("INVOICE_WORKFLOW_ARN", ""),
        return_workflow_arn=os.environ.get("RETURN_WORKFLOW_ARN", ""),
        legal_entity=os.environ.get("LEGAL_ENTITY", ""),
        payment_provider=os.environ.get("PAYMENT_PROVIDER", "local"),
        vat_registry=os.environ.get("VAT_REGISTRY", "vies"),
        document_bucket=os.environ.get("DOCUMENT_BUCKET", ""),
        document_queue_url=os.environ.get("DOCUMENT_QUEUE_URL", ""),
        paging_key_secret=os.environ.get("PAGING_KEY_SECRET", ""),
        payment_secret_name=os.environ.get("PAYMENT_SECRET_NAME", ""),
        reconcile_after_seconds=int(os.environ.get("RECONCILE_AFTER_SECONDS", "900")),
        notice_lease_seconds=int(os.environ.get("NOTICE_LEASE_SECONDS", "300")),
        notice_function_name=os.environ.get("NOTICE_FUNCTION_NAME", ""),
        reconcile_function_name=os.environ.get("RECONCILE_FUNCTION_NAME", ""),
    )
