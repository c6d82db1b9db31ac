"""Capture: order intake over HTTP and SQS, and the table's stream consumer that starts the order workflow.

| function      | trigger                                                          | may                        |
|---------------|------------------------------------------------------------------|----------------------------|
| api           | API: /orders, /orders/*                                          | CAPTURE_API_ACTIONS, GSIs  |
| intake        | SQS oms-<env>-intake-<channel>, one mapping per channel queue    | CAPTURE_ACTIONS, send to   |
|               | (batch 10, partial failures, DLQ after 5)                        | the channels' DLQs         |
| exchange      | return_processing task `CreateReplacement`                       | CAPTURE_ACTIONS on the     |
|               |                                                                  | order's own partitions     |
| stream        | table stream, new ORDER headers and restocked stock records       | put events, start and run  |
|               | (batch 100, bisect, 5 retries, partial failures, on-failure DLQ) | the order workflow;        |
|               |                                                                  | RESTOCK_ACTIONS on SKU#    |
"""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from constructs import Construct

from infra.constructs.api import Api
from infra.constructs.data import Data
from infra.constructs.functions import LambdaFunctions
from infra.constructs.messaging import Messaging
from infra.constructs.monitoring import Monitoring

HANDLERS = "functions.capture.handlers"

# Exactly what each function's code does with the table (functions/capture, functions/core):
# capture = one transaction (put the idempotency record, order header and details, channel ref;
# update the credit account) + reading a clashing ref (GetItem) + reading the order a replayed
# key made (Query of its items). (The API's cancel also releases the order's reserved stock:
# UpdateItem on SKU# items.)
CAPTURE_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query")
# the API also lists orders (GSI1-3, then the listed headers' status by BatchGetItem), and the
# cancel of a large order checks its reservation parts and deletes each as it releases it
CAPTURE_API_ACTIONS = (*CAPTURE_ACTIONS, "dynamodb:BatchGetItem", "dynamodb:ConditionCheckItem", "dynamodb:DeleteItem")
# an order with its channel reference, idempotency key and (on account) the customer's credit
CAPTURE_PARTITIONS = ("order", "channel_ref", "idempotency", "credit")
# the API also cancels (the reserved stock given back) and lists (GSI1-3)
CAPTURE_API_PARTITIONS = (*CAPTURE_PARTITIONS, "stock", "channel_orders", "customer_orders", "orders_of_month")
# an exchange's replacement: read the original order (query), capture the replacement (one
# transaction: header and details put, channel ref put), read the clashing ref of a repeat
# (get), move the return to EXCHANGED (update); no idempotency record, no credit account
EXCHANGE_ACTIONS = CAPTURE_ACTIONS
EXCHANGE_PARTITIONS = ("order", "channel_ref")
INTAKE_BATCH_SIZE = 10
STREAM_BATCH_SIZE = 100
STREAM_RETRY_ATTEMPTS = 5
# Only new order headers reach the stream consumer: other items, refs, keys and the header's own
# later updates (status changes) never wake it, and filtered records are free.
ORDER_HEADER_FILTER = {
    "eventName": lambda_.FilterRule.is_equal("INSERT"),
    "dynamodb": {"NewImage": {"SK": {"S": lambda_.FilterRule.is_equal("ORDER")}}},
}
# ... and stock counts written with the restock mark (functions/core/adapters/keys.RESTOCKED, set
# by PUT inventory): the SKU's backordered orders are run again. A reservation or a dispatch never
# sets the mark, and the consumer's removal of it leaves none, so neither wakes the function.
RESTOCK_FILTER = {
    "eventName": lambda_.FilterRule.or_("INSERT", "MODIFY"),
    "dynamodb": {"NewImage": {"PK": {"S": lambda_.FilterRule.begins_with("SKU#")},
                              "SK": {"S": lambda_.FilterRule.begins_with("NODE#")},
                              "restocked_at": {"S": lambda_.FilterRule.exists()}}},
}
# The restock: one Query of the SKU's partition (its stock and waiting orders), the waiting
# entries of an allocated order deleted, the mark removed; only on SKU# items.
RESTOCK_ACTIONS = ("dynamodb:Query", "dynamodb:DeleteItem", "dynamodb:UpdateItem")


class Capture(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: LambdaFunctions,
        data: Data,
        messaging: Messaging,
        api: Api,
        monitoring: Monitoring,
        order_workflow_arn: str,
    ) -> None:
        super().__init__(scope, construct_id)

        # --- HTTP ----------------------------------------------------------------------------
        self.api_function = functions.python_function(
            self,
            "ApiFunction",
            capability="capture",
            role="api",
            handler=f"{HANDLERS}.api.lambda_handler",
            description="Orders API: capture, read, list, cancel",
        )
        data.grant(self.api_function, CAPTURE_API_ACTIONS, partitions=CAPTURE_API_PARTITIONS)
        api.add_prefix(
            "orders",
            self.api_function,
            methods=("GET", "POST"),
            # Safe retries of a capture need the client's key: refuse the request before it
            # costs a function invocation.
            required_headers={"POST": ("Idempotency-Key",)},
            # not /orders/{proxy+}: /orders/{order_id}/returns belongs to returns, and a resource
            # may have one variable child only
            proxy=False,
        )
        api.add_route("/orders/quote", self.api_function, methods=("POST",))
        api.add_route("/orders/{order_id}", self.api_function, methods=("GET",))
        api.add_route("/orders/{order_id}/{proxy+}", self.api_function)
        monitoring.watch_api_function("CaptureApi", self.api_function)

        # --- an exchange's replacement order (return_processing) -----------------------------
        self.exchange_function = functions.python_function(
            self, "ExchangeFunction", capability="capture", role="exchange",
            handler=f"{HANDLERS}.exchange.lambda_handler",
            description="return_processing task: an exchange's replacement order at no charge, once",
        )
        data.grant(self.exchange_function, EXCHANGE_ACTIONS, partitions=EXCHANGE_PARTITIONS)
        monitoring.watch_worker(self.exchange_function)

        # --- SQS intake (EDI, bulk feeds, marketplace webhooks) -------------------------------
        self.intake_function = functions.python_function(
            self,
            "IntakeFunction",
            capability="capture",
            role="intake",
            handler=f"{HANDLERS}.intake.lambda_handler",
            description="Captures orders from the channels' intake queues",
        )
        data.grant(self.intake_function, CAPTURE_ACTIONS, partitions=CAPTURE_PARTITIONS)
        # One mapping per channel queue: the record's queue names the channel its orders are
        # captured for. The function dead-letters refused orders itself (one message per order).
        intake_role = self.intake_function.role
        assert intake_role is not None  # the function factory gives each function its own role
        for intake in messaging.intake_queues.values():
            self.intake_function.add_event_source(
                event_sources.SqsEventSource(
                    intake.queue,
                    batch_size=INTAKE_BATCH_SIZE,
                    report_batch_item_failures=True,
                )
            )
            self.intake_function.add_to_role_policy(
                iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[intake.dead_letter_queue.queue_arn])
            )
            # A dead letter is redriven into the channel's queue (`oms redrive`) and captured as
            # that channel: only this function may write one. SQS's own move of a message it gave
            # up on needs no principal's permission; a role is named by aws:PrincipalArn (the
            # role's ARN, not the session's), as the intake queues name their senders.
            intake.dead_letter_queue.add_to_resource_policy(iam.PolicyStatement(
                sid="OnlyTheIntakeFunctionMayDeadLetter", effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()], actions=["sqs:SendMessage"],
                resources=[intake.dead_letter_queue.queue_arn],
                conditions={"ArnNotEquals": {"aws:PrincipalArn": intake_role.role_arn}}))
        monitoring.watch_worker(self.intake_function)

        # --- Table stream: start the order workflow, publish OrderCaptured ------------------
        self.stream_dead_letter_queue = stream_dlq = messaging.dead_letter_queue(
            "OrderStreamDlq", purpose="order-stream-dlq"
        )
        self.stream_function = functions.python_function(
            self,
            "StreamFunction",
            capability="capture",
            role="stream",
            handler=f"{HANDLERS}.stream.lambda_handler",
            description="Order stream consumer: starts the order workflow, publishes events",
        )
        messaging.event_bus.grant_put_events_to(self.stream_function)
        # a backordered order's workflow is run to its end before the next one's (oldest first)
        self.stream_function.add_to_role_policy(
            iam.PolicyStatement(actions=["states:StartExecution", "states:StartSyncExecution"],
                                resources=[order_workflow_arn])
        )
        # the restock: a SKU's stock records and waiting entries, in its partition alone
        data.grant(self.stream_function, RESTOCK_ACTIONS, partitions=("stock",))
        self.stream_function.add_event_source(
            event_sources.DynamoEventSource(
                data.table,
                # From the oldest record: nothing written before the mapping existed is lost
                # (every consumer step is idempotent).
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=STREAM_BATCH_SIZE,
                bisect_batch_on_error=True,
                retry_attempts=STREAM_RETRY_ATTEMPTS,
                report_batch_item_failures=True,
                on_failure=event_sources.SqsDlq(stream_dlq),
                filters=[lambda_.FilterCriteria.filter(ORDER_HEADER_FILTER),
                         lambda_.FilterCriteria.filter(RESTOCK_FILTER)],
            )
        )
        monitoring.watch_stream_consumer("CaptureStream", self.stream_function)
