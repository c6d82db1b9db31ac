"""Table stream consumer of invoice. Four kinds of change come through its filters:

- a shipment just dispatched: start its ``shipment_invoicing`` workflow (execution names carry
  the order id; every task is idempotent, so a redelivered record only repeats no-ops);
- an order just cancelled: void the card authorisation / give the on-account credit back;
- a receipt just added to a return whose outcome is a refund: start its ``return_processing``
  workflow (credit note, refund, the return REFUNDED); the receipt that brings an exchange's
  last unit in: start it for the replacement order;
- a finance fact just appended to the timeline of an invoice or an order header: publish it on
  the event bus (``functions/invoice/finance_events.py``), a batch's events in one PutEvents;
- an invoice or credit note just issued: queue it for rendering (its PDF and e-invoice), a
  batch's documents in one SendMessageBatch.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from functions.core.adapters.changes import (
    invoice_view_of,
    order_cancelled,
    order_of,
    receipts_added,
    shipment_dispatched,
)
from functions.core.adapters.timeline import added_entries
from functions.core.events import DomainEvent
from functions.core.handlers.entrypoints import batch_handler
from functions.core.handlers.observability import MetricUnit, logger, metrics
from functions.invoice.finance_events import finance_facts
from functions.invoice.invoicing import execution_name
from functions.invoice.refunding import execution_name as return_execution_name
from functions.invoice.wiring import (
    finance_publisher,
    invoice_service,
    invoicing_starter,
    render_queue,
    return_processing_starter,
)

#: Finance events of the batch being handled, published together after it (one PutEvents per
#: 10: a settlement's PaymentCaptured and OrderCompleted come as two records of one transaction).
_facts: list[DomainEvent] = []
#: The documents the batch issued, (order id, number), queued for rendering together after it.
_issued: list[tuple[str, str]] = []


def change_of(event_name: str, new: dict[str, Any], old: dict[str, Any]) -> str | None:
    if event_name == "MODIFY" and shipment_dispatched(new, old):
        return "dispatched"
    if event_name == "MODIFY" and order_cancelled(new, old):
        return "cancelled"
    return None


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
    elif (new.get("summary") or {}).get("outcome") == "REFUND":
        _start_return_processing(new, receipts_added(new, old), "REFUND")
    elif (new.get("summary") or {}).get("outcome") == "EXCHANGE" and new.get("status") == "RECEIVED" \
            and old.get("status") != "RECEIVED":  # the last unit of an exchange arrived: replace it
        _start_return_processing(new, receipts_added(new, old)[-1:], "EXCHANGE")
    elif (new.get("summary") or {}).get("outcome") == "EXCHANGE" and new.get("status") == "CLOSED" \
            and old.get("status") == "PARTIALLY_RECEIVED":  # closed with part of it in: refund what came
        _start_return_processing(new, receipts_added(new, {}), "REFUND")
    view = invoice_view_of(new)
    if view is not None and record.event_name and record.event_name.name == "INSERT":
        _issued.append((order_of(new), str(view["invoice_number"])))
    _facts.extend(finance_facts(order_of(new), view, added_entries(new, old)))


def _start_return_processing(new: dict[str, Any], receipts: list[tuple[str, int]], outcome: str) -> None:
    order_id, return_id = order_of(new), str(new["summary"]["return_id"])
    for receipt_id, number in receipts:
        arn = return_processing_starter().start(return_execution_name(order_id, return_id, number), {
            "order_id": order_id, "return_id": return_id, "receipt_id": receipt_id, "outcome": outcome})
        logger.info("return processing started", extra={"order_id": order_id, "return_id": return_id,
                                                        "receipt_id": receipt_id, "execution_arn": arn})


def _start() -> None:
    _facts.clear()
    _issued.clear()


def _finish() -> None:
    """If this fails the whole batch is retried; ids are stable, so a subscriber drops repeats,
    and rendering a document again writes nothing."""
    if _facts:
        finance_publisher().publish(list(_facts))
        metrics.add_metric(name="FinanceEventsPublished", unit=MetricUnit.Count, value=len(_facts))
        _facts.clear()
    if _issued:
        render_queue().send(list(_issued))
        _issued.clear()


lambda_handler = batch_handler("DynamoDBStreams", record_handler, start=_start, finish=_finish)
