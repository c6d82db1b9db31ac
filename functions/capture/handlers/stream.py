"""DynamoDB stream consumer: for each newly captured order, start its workflow and publish
``OrderCaptured`` (at least once: a duplicate execution changes nothing, the event keeps one
id). Partial batch failures are reported so only failed records retry."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.capture.service import workflow_service
from functions.core.observability import MetricUnit, logger, metrics

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def record_handler(record: DynamoDBRecord) -> None:
    image = record.dynamodb.new_image if record.dynamodb else None
    if record.event_name != DynamoDBRecordEventName.INSERT or not image or image.get("SK") != "ORDER":
        return  # header updates (status changes) are not captures
    order_id = image["order_id"]
    summary = {**dict(image.get("summary") or {}), "status": image.get("status")}
    arn = workflow_service().on_order_captured(order_id, summary)
    if arn:
        logger.info("order workflow started", extra={"order_id": order_id, "execution_arn": arn})
        metrics.add_metric(name="WorkflowsStarted", unit=MetricUnit.Count, value=1)


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(  # type: ignore[return-value]  # a TypedDict of the same shape
        event=event, record_handler=record_handler, processor=processor, context=context)
