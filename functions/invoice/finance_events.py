"""Finance events: which timeline facts finance hears about on the bus, and what each carries.
No AWS here: the stream consumer hands in what a write added to an item's timeline.

The entry is written in the same write as the fact (it is part of the item), so the table
stream is a transactional outbox: no fact without its event, no event without its fact.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from functions.core.events import DomainEvent

SOURCE = "oms.invoice"
#: Timeline events published on the bus (API.md "Finance"), with the source that owns them.
FINANCE_EVENTS = ("InvoiceIssued", "PaymentCaptured", "PaymentVoided", "OrderCompleted", "CreditNoteIssued",
                  "PaymentRefunded", "PaymentReceived")

#: What a finance event about an invoice carries from the invoice itself (the API's finance
#: events carry "the document's numbers and amounts"); the timeline entry on the invoice stays small.
DOCUMENT_FIELDS = ("invoice_number", "kind", "shipment_id", "legal_entity", "issued_at", "currency", "net", "tax",
                   "gross", "payment_status", "payment_reference", "corrects", "return_id", "receipt_id")


def finance_facts(order_id: str, invoice: dict[str, Any] | None, added: Iterable[dict[str, Any]]
                  ) -> list[DomainEvent]:
    """The finance events of the timeline entries a write ``added`` to an item of the order (ids
    from the entries: a redelivered record republishes the same ids), with the invoice's numbers
    and amounts when the item is an invoice (``invoice``: its view)."""
    document = {k: invoice[k] for k in DOCUMENT_FIELDS if invoice and invoice.get(k) is not None}
    facts = []
    for e in added:
        if e.get("event") not in FINANCE_EVENTS:
            continue
        data = {"order_id": order_id, **document, **dict(e.get("detail") or {})}
        if e["event"] == "PaymentCaptured" and "gross" in document:
            data.setdefault("amount", document["gross"])
        facts.append(DomainEvent(name=str(e["event"]), source=SOURCE, data=data, event_id=f"evt_{e['id']}",
                                 occurred_at=str(e["at"]), correlation_id=order_id))
    return facts
