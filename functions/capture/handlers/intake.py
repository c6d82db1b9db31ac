"""SQS feeds (EDI, bulk imports, marketplace connectors): each channel's own intake queue,
``oms-<env>-intake-<channel>``, captured through the same use case as ``POST /orders``.

The channel is the record's queue (its ARN), never the message: the queue's policy names its
senders. Body: ``{"orders": [{"idempotency_key": "…", "order": {…OrderIn…}}, …]}``. Refused
orders go to the queue's DLQ one message per order (functions/capture/feeds.py); a transient
failure fails the record (partial batch response) so SQS delivers it again.
"""

from __future__ import annotations

# Powertools' batch utilities (batch_handler's) before anything loads pydantic: imported after
# it, they also build the parser's pydantic record models (SQS, DynamoDB, Kinesis, Kafka), which
# no handler uses — about 50 ms of this function's cold start (make bench, bench/coldstart.py).
import aws_lambda_powertools.utilities.batch  # noqa: F401
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from functions.capture.feed_messages import parse_feed_message
from functions.capture.feeds import feed_queue
from functions.capture.wiring import feed_intake
from functions.core.handlers.entrypoints import batch_handler
from functions.core.handlers.observability import MetricUnit, logger, metrics


def record_handler(record: SQSRecord) -> None:
    queue = feed_queue(record.event_source_arn)
    outcome = feed_intake().take(queue, parse_feed_message(record.body))
    if outcome.captured:
        metrics.add_metric(name="OrdersCaptured", unit=MetricUnit.Count, value=len(outcome.captured))
    if outcome.dead_letters:
        metrics.add_metric(name="FeedOrdersRefused", unit=MetricUnit.Count, value=len(outcome.dead_letters))
    logger.info("feed message taken", extra={
        "channel": queue.channel, "captured": outcome.captured, "replayed": outcome.replayed,
        "refused": [{"idempotency_key": d.idempotency_key, "errors": [e.field for e in d.errors]}
                    for d in outcome.dead_letters]})


#: A record (at most 100 orders, feed_messages.py) is started only with this much of the 15 s
#: timeout left; the records after it fail at once and come again, instead of the timeout
#: failing the whole batch (its captured records included) on every delivery.
RESERVE_MS = 3_000

lambda_handler = batch_handler("SQS", record_handler, reserve_ms=RESERVE_MS)
