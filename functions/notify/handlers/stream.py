"""Table stream consumer of notify: a shipment just dispatched (email + SMS with tracking), an
order just cancelled, a return just authorised (the RMA and where to send it) or a credit note
just refunded (emails). The event source's filters let only those changes in."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from functions.core.adapters.changes import (
    credit_note_refunded,
    order_cancelled,
    order_of,
    return_authorized,
    shipment_dispatched,
)
from functions.core.handlers.entrypoints import batch_handler
from functions.core.handlers.observability import MetricUnit, metrics
from functions.notify.wiring import notice_service


def notice_for(new: dict[str, Any], old: dict[str, Any], event_name: str = "MODIFY"
               ) -> tuple[str, str, str | None] | None:
    """(order id, kind, ref: the shipment, return or credit note) of the notice a change calls
    for, if any."""
    if shipment_dispatched(new, old):
        return str(new["order_id"]), "shipment_dispatched", str(new["shipment_id"])
    if order_cancelled(new, old):
        return str(new["order_id"]), "order_cancelled", None
    if return_id := return_authorized(event_name, new):
        return order_of(new), "return_authorized", return_id
    if number := credit_note_refunded(new, old):
        return order_of(new), "refund_issued", number
    return None


def record_handler(record: DynamoDBRecord) -> None:
    change = record.dynamodb
    event_name = record.event_name.name if record.event_name else "MODIFY"
    notice = notice_for(dict(change.new_image or {}), dict(change.old_image or {}), event_name) if change else None
    if notice is None:
        return
    order_id, kind, ref = notice
    # the record's id is the same on each redelivery of it: the claimant of its notice
    results = notice_service().notify(order_id, kind, ref, record.event_id)
    sent = sum(r["result"] == "sent" for r in results)
    if sent:
        metrics.add_metric(name="NoticesSent", unit=MetricUnit.Count, value=sent)


lambda_handler = batch_handler("DynamoDBStreams", record_handler)
