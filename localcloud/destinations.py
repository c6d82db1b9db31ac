"""Send a message to an SQS queue or an SNS topic named by ARN, through moto's backends.

Shared by the stream poller's on-failure destinations and the EventBridge rule targets.
"""

from __future__ import annotations

from moto.sns.models import sns_backends
from moto.sqs.models import sqs_backends
from moto.utilities.arns import parse_arn


def deliver(arn: str, body: str, group_id: str | None = None) -> None:
    """``SendMessage`` to a queue (``group_id`` for FIFO queues) or ``Publish`` to a topic."""
    parsed = parse_arn(arn)
    if parsed.service == "sqs":
        sqs_backends[parsed.account][parsed.region].send_message(parsed.resource_id, body, group_id=group_id)
    elif parsed.service == "sns":
        sns_backends[parsed.account][parsed.region].publish(body, arn=arn)
    else:
        raise ValueError(f"cannot deliver to {arn}: only SQS queues and SNS topics")
