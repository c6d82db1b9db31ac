"""Notify: customer emails (SES) and SMS (SNS), once per event.

| function | triggered by | may |
|---|---|---|
| notice | order_fulfillment `NotifyConfirmed`, `NotifyBackordered` | NOTICE_ACTIONS, email as the sender, SMS |
| stream | table stream, filtered (below) | the same |

The stream lets in: shipments just dispatched, orders just cancelled, returns just authorised,
credit notes just refunded.

The sender identity itself is account setup (verified in SES, production access), not part
of the stack; `EnvironmentConfig.notice_sender` names it.
"""

from __future__ import annotations

from aws_cdk import Aws, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.constructs.data import Data
from infra.constructs.functions import LambdaFunctions
from infra.constructs.messaging import Messaging
from infra.constructs.monitoring import Monitoring
from infra.constructs.stream_filters import (
    CREDIT_NOTE_REFUNDED,
    ORDER_CANCELLED,
    RETURN_AUTHORIZED,
    SHIPMENT_DISPATCHED,
)

HANDLERS = "functions.notify.handlers"
# read the order (query); claim a notice (put; a withdrawn channel again: update) and record
# the outcome (update, with the timeline entries)
NOTICE_ACTIONS = ("dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem")
NOTICE_PARTITIONS = ("order",)  # the order and its notices
STREAM_BATCH_SIZE = 25
# Only the changes that call for a notice wake the consumer (filtered records are free):
# SHIPMENT_DISPATCHED, ORDER_CANCELLED, RETURN_AUTHORIZED and CREDIT_NOTE_REFUNDED
# (infra/constructs/stream_filters.py).


class Notify(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig,
                 functions: LambdaFunctions, data: Data, messaging: Messaging, monitoring: Monitoring) -> None:
        super().__init__(scope, construct_id)
        self.notice_function = functions.python_function(
            self, "NoticeFunction", capability="notify", role="notice",
            handler=f"{HANDLERS}.order_notice.lambda_handler",
            description="order_fulfillment task: order confirmed / backordered notices",
        )
        self.stream_function = functions.python_function(
            self, "StreamFunction", capability="notify", role="stream", handler=f"{HANDLERS}.stream.lambda_handler",
            description="Dispatch (email + SMS) and cancellation notices from the table stream",
        )
        domain = config.notice_sender.split("@", 1)[1]
        identity_arns = [Stack.of(self).format_arn(service="ses", resource="identity", resource_name=name)
                         for name in (config.notice_sender, domain)]
        for fn in (self.notice_function, self.stream_function):
            data.grant(fn, NOTICE_ACTIONS, partitions=NOTICE_PARTITIONS)
            fn.add_to_role_policy(iam.PolicyStatement(actions=["ses:SendEmail"], resources=identity_arns))
            # SMS to a phone number has no resource to scope to...
            fn.add_to_role_policy(iam.PolicyStatement(actions=["sns:Publish"], resources=["*"],
                                                      conditions={"StringEquals": {"aws:RequestedRegion": Aws.REGION}}))
            # ...so every publish that has one — to a topic or a platform endpoint, in any account
            # or region — is denied: the allow above serves text messages only.
            fn.add_to_role_policy(iam.PolicyStatement(effect=iam.Effect.DENY, actions=["sns:Publish"],
                                                      resources=[f"arn:{Aws.PARTITION}:sns:*:*:*"]))
        self.stream_dead_letter_queue = messaging.dead_letter_queue("NoticeStreamDlq", purpose="notice-stream-dlq")
        self.stream_function.add_event_source(event_sources.DynamoEventSource(
            data.table, starting_position=lambda_.StartingPosition.TRIM_HORIZON, batch_size=STREAM_BATCH_SIZE,
            bisect_batch_on_error=True, retry_attempts=5, report_batch_item_failures=True,
            on_failure=event_sources.SqsDlq(self.stream_dead_letter_queue),
            filters=[lambda_.FilterCriteria.filter(SHIPMENT_DISPATCHED),
                     lambda_.FilterCriteria.filter(ORDER_CANCELLED),
                     lambda_.FilterCriteria.filter(RETURN_AUTHORIZED),
                     lambda_.FilterCriteria.filter(CREDIT_NOTE_REFUNDED)],
        ))
        monitoring.watch_worker(self.notice_function)
        monitoring.watch_stream_consumer("NotifyStream", self.stream_function)
