"""Table stream consumer of notify: a shipment just dispatched (email + SMS with tracking)
or an order just cancelled (email). The event source's filters let only those changes in."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from functions.core.adapters.changes import order_cancelled, shipment_dispatched
from functions.core.handlers.entrypoints import batch_handler
from functions.core.handlers.observability import MetricUnit, metrics
from functions.notify.wiring import notice_service


def notice_for(new: dict[str, Any], old: dict[str, Any]) -> tuple[str, str, str | None] | None:
    """(order id, kind, shipment id) of the notice a change calls for, if any."""
    if shipment_dispatched(new, old):
        return str(new["order_id"]), "shipment_dispatched", str(new["shipment_id"])
    if order_cancelled(new, old):
        return str(new["order_id"]), "order_cancelled", None
    return None


def record_handler(record: DynamoDBRecord) -> None:
    change = record.dynamodb
    notice = notice_for(dict(change.new_image or {}), dict(change.old_image or {})) if change else None
    if notice is None:
        return
    order_id, kind, shipment_id = notice
    # the record's id is the same on each redelivery of it: the claimant of its notice
    results = notice_service().notify(order_id, kind, shipment_id, record.event_id)
    sent = sum(r["result"] == "sent" for r in results)
    if sent:
        metrics.add_metric(name="NoticesSent", unit=MetricUnit.Count, value=sent)


lambda_handler = batch_handler("DynamoDBStreams", record_handler)
