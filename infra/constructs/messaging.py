"""The event bus, the order-intake queue, and dead-letter queues.

The intake queue is messaging infrastructure that outside senders (EDI, connectors) write to;
the capture construct only consumes it. Its URL is the stack output ``OrderIntakeQueueUrl``.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.constructs.monitoring import Monitoring

DLQ_RETENTION = Duration.days(14)  # the SQS maximum: time to find the bug and redrive
INTAKE_MAX_RECEIVE_COUNT = 5
# The queue's visibility timeout must be at least the consuming function's timeout (AWS
# recommends 6x, which leaves room for the ESM's own retries of a throttled batch).
INTAKE_VISIBILITY_TIMEOUT_FACTOR = 6


class Messaging(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        monitoring: Monitoring,
    ) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        self._monitoring = monitoring
        self.event_bus = events.EventBus(self, "EventBus", event_bus_name=config.event_bus_name)

        intake_dlq = self.dead_letter_queue("OrderIntakeDlq", purpose="order-intake-dlq")
        self.order_intake_queue = sqs.Queue(
            self,
            "OrderIntakeQueue",
            queue_name=config.queue_name("order-intake"),
            enforce_ssl=True,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            visibility_timeout=Duration.seconds(config.timeout.to_seconds() * INTAKE_VISIBILITY_TIMEOUT_FACTOR),
            dead_letter_queue=sqs.DeadLetterQueue(queue=intake_dlq, max_receive_count=INTAKE_MAX_RECEIVE_COUNT),
        )

    def dead_letter_queue(self, construct_id: str, *, purpose: str) -> sqs.Queue:
        """An SSL-only, encrypted DLQ that alarms on its first message."""
        queue = sqs.Queue(
            self,
            construct_id,
            queue_name=self._config.queue_name(purpose),
            enforce_ssl=True,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            retention_period=DLQ_RETENTION,
        )
        self._monitoring.watch_dead_letter_queue(construct_id, queue, what=purpose)
        return queue
