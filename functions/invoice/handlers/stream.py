"""Table stream consumer of invoice. Three kinds of change come through its filters:

- a shipment just dispatched: start its ``shipment_invoicing`` workflow (execution names carry
  the order id; every task is idempotent, so a redelivered record only repeats no-ops);
- an order just cancelled: void the card authorisation / give the on-account credit back;
- a finance fact just appended to the timeline of an invoice or an order header
  (``InvoiceIssued``, ``PaymentCaptured``, ``PaymentVoided``, ``OrderCompleted``): publish it
  on the event bus. The entry is written in the same write as the fact (it is part of the
  item), so the stream is a transactional outbox: no fact without its event, no event without
  its fact. The record's old and new images tell which entries the write added.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.core.adapters.timeline import added_entries
from functions.core.changes import order_cancelled, shipment_dispatched
from functions.core.events import DomainEvent
from functions.core.ids import new_id
from functions.core.observability import MetricUnit, logger, metrics
from functions.invoice.service import finance_publisher, invoice_service, invoicing_starter

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
#: Finance events of the batch being handled, published together after it (one PutEvents per
#: 10: a settlement's PaymentCaptured and OrderCompleted come as two records of one transaction).
_facts: list[DomainEvent] = []

SOURCE = "oms.invoice"
#: Timeline events published on the bus (API.md "Finance"), with the source that owns them.
FINANCE_EVENTS = ("InvoiceIssued", "PaymentCaptured", "PaymentVoided", "OrderCompleted")


def change_of(event_name: str, new: dict[str, Any], old: dict[str, Any]) -> str | None:
    if event_name == "MODIFY" and shipment_dispatched(new, old):
        return "dispatched"
    if event_name == "MODIFY" and order_cancelled(new, old):
        return "cancelled"
    return None


#: What a finance event about an invoice carries from the invoice itself (the API's finance
#: events carry "the document's numbers and amounts"); the timeline entry on the invoice stays small.
DOCUMENT_FIELDS = ("invoice_number", "kind", "shipment_id", "legal_entity", "issued_at", "currency", "net", "tax",
                   "gross", "payment_status", "payment_reference")


def finance_facts(new: dict[str, Any], old: dict[str, Any]) -> list[DomainEvent]:
    """The finance events of the timeline entries this write added (ids from the entries: a
    redelivered record republishes the same ids), with the invoice's numbers and amounts when
    the entry is on an invoice."""
    order_id = str(new.get("PK", "")).removeprefix("ORDER#")
    view = dict(new.get("summary") or {}) if str(new.get("SK", "")).startswith("INVOICE#") else {}
    document = {k: view[k] for k in DOCUMENT_FIELDS if view.get(k) is not None}
    facts = []
    for e in added_entries(new, old):
        if e.get("event") not in FINANCE_EVENTS:
            continue
        data = {"order_id": order_id, **document, **dict(e.get("detail") or {})}
        if e["event"] == "PaymentCaptured" and "gross" in document:
            data.setdefault("amount", document["gross"])
        facts.append(DomainEvent(name=str(e["event"]), source=SOURCE, data=data, event_id=f"evt_{e['id']}",
                                 occurred_at=str(e["at"]), correlation_id=order_id))
    return facts


def execution_name(order_id: str, shipment_id: str) -> str:
    """``<order id>-inv<n>-<random>``: names carry the order id (API.md) and stay unique."""
    return f"{order_id}-inv{shipment_id.rsplit('-', 1)[1]}-{new_id('x')[-10:]}"


def record_handler(record: DynamoDBRecord) -> None:
    change = record.dynamodb
    new, old = dict(change.new_image or {}) if change else {}, dict(change.old_image or {}) if change else {}
    kind = change_of(record.event_name.name if record.event_name else "", new, old)
    if kind == "dispatched":
        order_id, shipment_id = str(new["order_id"]), str(new["shipment_id"])
        arn = invoicing_starter().start(execution_name(order_id, shipment_id),
                                        {"order_id": order_id, "shipment_id": shipment_id})
        logger.info("invoicing started", extra={"order_id": order_id, "shipment_id": shipment_id,
                                                "execution_arn": arn})
    elif kind == "cancelled":
        result = invoice_service().release_payment(str(new["order_id"]))
        logger.info("payment hold of a cancelled order", extra={"order_id": new["order_id"], "result": result})
    _facts.extend(finance_facts(new, old))


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    _facts.clear()
    response: dict[str, Any] = process_partial_response(  # type: ignore[assignment]  # a TypedDict
        event=event, record_handler=record_handler, processor=processor, context=context)
    if _facts:
        # If this fails the whole batch is retried; ids are stable, so a subscriber drops repeats.
        finance_publisher().publish(list(_facts))
        metrics.add_metric(name="FinanceEventsPublished", unit=MetricUnit.Count, value=len(_facts))
        _facts.clear()
    return response
