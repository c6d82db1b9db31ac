"""DynamoDB stream consumer: for each newly captured order, start its workflow and publish
``OrderCaptured`` (at least once: a duplicate execution changes nothing, the event keeps one
id). Partial batch failures are reported so only failed records retry."""

from __future__ import annotations

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from functions.capture.wiring import workflow_service
from functions.core.adapters.changes import captured_order
from functions.core.handlers.entrypoints import batch_handler
from functions.core.handlers.observability import MetricUnit, logger, metrics


def record_handler(record: DynamoDBRecord) -> None:
    new = dict(record.dynamodb.new_image or {}) if record.dynamodb else {}
    captured = captured_order(record.event_name.name if record.event_name else "", new)
    if captured is None:
        return  # header updates (status changes) are not captures
    order_id, summary = captured
    arn = workflow_service().on_order_captured(order_id, summary)
    if arn:
        logger.info("order workflow started", extra={"order_id": order_id, "execution_arn": arn})
        metrics.add_metric(name="WorkflowsStarted", unit=MetricUnit.Count, value=1)


lambda_handler = batch_handler("DynamoDBStreams", record_handler)
