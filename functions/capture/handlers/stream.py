"""DynamoDB stream consumer: for each newly captured order, start its workflow and publish
``OrderCaptured`` (at least once: a duplicate execution changes nothing, the event keeps one
id); for a stock count written with the restock mark (PUT inventory), run the SKU's
backordered orders again, oldest first (``capture/restocks.py``). Partial batch failures are
reported so only failed records retry."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from functions.capture.wiring import restock_service, workflow_service
from functions.core.adapters.changes import captured_order, stock_restocked
from functions.core.handlers.entrypoints import batch_handler
from functions.core.handlers.observability import MetricUnit, logger, metrics


def record_handler(record: DynamoDBRecord, lambda_context: Any = None) -> None:
    new = dict(record.dynamodb.new_image or {}) if record.dynamodb else {}
    restocked = stock_restocked(new, dict(record.dynamodb.old_image or {}) if record.dynamodb else {})
    if restocked is not None:
        _restocked(*restocked, lambda_context)
        return
    captured = captured_order(record.event_name.name if record.event_name else "", new)
    if captured is None:
        return  # header updates (status changes) are not captures
    order_id, summary = captured
    arn = workflow_service().on_order_captured(order_id, summary)
    if arn:
        logger.info("order workflow started", extra={"order_id": order_id, "execution_arn": arn})
        metrics.add_metric(name="WorkflowsStarted", unit=MetricUnit.Count, value=1)


def _restocked(sku: str, node_id: str, mark: str, rose: bool, context: Any) -> None:
    def time_left() -> float:
        return context.get_remaining_time_in_millis() / 1000 if context is not None else float("inf")

    outcomes = restock_service(time_left).on_restocked(sku, node_id, mark, rose)
    for o in outcomes:
        logger.info("backordered order run again", extra={"order_id": o.order_id, "sku": sku, "result": o.result})
    allocated = sum(o.result == "allocated" for o in outcomes)
    if allocated:
        metrics.add_metric(name="BackordersAllocated", unit=MetricUnit.Count, value=allocated)
    if any(o.result == "failed" for o in outcomes):
        metrics.add_metric(name="BackorderRunsFailed", unit=MetricUnit.Count,
                           value=sum(o.result == "failed" for o in outcomes))


lambda_handler = batch_handler("DynamoDBStreams", record_handler)
