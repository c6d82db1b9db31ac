"""SQS order feed (EDI, bulk imports, marketplace connectors): the same capture as the API,
idempotent per channel and message key, with partial batch failures.

Message body: ``{"channel": "<principal id>", "idempotency_key": "<key>", "order": {…OrderIn…}}``.
The queue's resource policy decides who may send; a message that can never be captured
(invalid order) is logged and dropped to the DLQ after its retries, never half-written.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, Field

from functions.capture.logic import DuplicateOrder
from functions.capture.routes import capture_idempotently
from functions.core.observability import logger, metrics

processor = BatchProcessor(event_type=EventType.SQS)


class IntakeMessage(BaseModel):
    channel: str = Field(min_length=1, max_length=64)
    idempotency_key: str = Field(min_length=1, max_length=255)
    order: dict[str, Any]


def record_handler(record: SQSRecord) -> None:
    message = IntakeMessage.model_validate(json.loads(record.body))
    try:
        result = capture_idempotently(message.channel, message.idempotency_key, message.order)
    except DuplicateOrder as exc:  # the channel re-sent an order we already have (new key): done
        logger.info("duplicate channel order ignored", extra={"existing_order_id": exc.existing_order_id})
        return
    logger.info("order captured from feed", extra={"order_id": result["order"]["order_id"]})


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(  # type: ignore[return-value]  # a TypedDict of the same shape
        event=event, record_handler=record_handler, processor=processor, context=context)
