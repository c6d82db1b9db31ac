"""SQS order feed (EDI, bulk imports, marketplace connectors): the same capture as the API,
idempotent per channel and message key, with partial batch failures.

Message body: ``{"channel": "<principal id>", "idempotency_key": "<key>", "order": {…OrderIn…}}``.
The queue's resource policy decides who may send; a message that can never be captured
(invalid order) is logged and dropped to the DLQ after its retries, never half-written.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import BaseModel, Field

from functions.capture.capturing import DuplicateOrder
from functions.capture.models import OrderIn
from functions.capture.wiring import capture_service
from functions.core.handlers.entrypoints import batch_handler
from functions.core.handlers.observability import MetricUnit, logger, metrics


class IntakeMessage(BaseModel):
    channel: str = Field(min_length=1, max_length=64)
    idempotency_key: str = Field(min_length=1, max_length=255)
    order: dict[str, Any]


def record_handler(record: SQSRecord) -> None:
    message = IntakeMessage.model_validate(json.loads(record.body))
    new = OrderIn.model_validate(message.order).to_command()
    try:
        result = capture_service().capture_request(new, message.channel, message.idempotency_key, message.order)
    except DuplicateOrder as exc:  # the channel re-sent an order we already have (new key): done
        logger.info("duplicate channel order ignored", extra={"existing_order_id": exc.existing_order_id})
        return
    if not result.replayed:
        metrics.add_metric(name="OrdersCaptured", unit=MetricUnit.Count, value=1)
    logger.info("order captured from feed", extra={"order_id": result.order.order_id})


lambda_handler = batch_handler("SQS", record_handler)
