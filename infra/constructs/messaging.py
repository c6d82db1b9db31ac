"""The event bus, the channels' intake queues, and dead-letter queues.

Feeds (EDI, bulk imports, marketplace connectors) write orders to their channel's own intake
queue, ``oms-<env>-intake-<channel>``, one per channel of ``EnvironmentConfig.feed_channels``.
The channel an order is captured for is the queue's, never the message's: the queue's policy
names its senders (``sqs:SendMessage`` allowed to them and denied to every other principal, so a
role of the account with broad SQS rights still cannot write as that channel). The capture
construct only consumes the queues. Each has its own DLQ, ``…-intake-<channel>-dlq``, that
receives both what SQS gives up on (after ``INTAKE_MAX_RECEIVE_COUNT`` receives) and the
orders the intake function refuses, one message per order; the channel's senders may read it.
Their URLs are the stack outputs ``IntakeQueueUrl<Channel>`` (ARCHITECTURE.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aws_cdk import Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from functions.capture.feeds import DEAD_LETTER_SUFFIX, feed_queue
from infra.config import FEED_CHANNEL_ID, FEED_SENDER, FEED_SENDER_ACCOUNT, EnvironmentConfig
from infra.constructs.monitoring import Monitoring

DLQ_RETENTION = Duration.days(14)  # the SQS maximum: time to find the bug and redrive
INTAKE_MAX_RECEIVE_COUNT = 5
# The queue's visibility timeout must be at least the consuming function's timeout (AWS
# recommends 6x, which leaves room for the ESM's own retries of a throttled batch).
INTAKE_VISIBILITY_TIMEOUT_FACTOR = 6
# A document that fails to render five times (a bug, not a brownout: S3 and DynamoDB errors are
# retried inside each attempt) waits in the DLQ for `make redrive`.
DOCUMENT_MAX_RECEIVE_COUNT = 5
#: What a channel's senders may do with their DLQ: read the orders refused, and remove them.
DLQ_READ_ACTIONS = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
                    "sqs:GetQueueAttributes", "sqs:GetQueueUrl")


@dataclass(frozen=True)
class IntakeQueue:
    channel: str
    queue: sqs.Queue
    dead_letter_queue: sqs.Queue


def check_feed_channels(config: EnvironmentConfig) -> None:
    """Refuse at synth a channel id no queue name can carry, or a sender we cannot name."""
    for channel, senders in config.feed_channels.items():
        if not FEED_CHANNEL_ID.match(channel) or _channel_read_back(config, channel) != channel:
            raise ValueError(f"{config.name}: feed channel {channel!r} must match {FEED_CHANNEL_ID.pattern} "
                             f"and its queue must read back as it (not ending in {DEAD_LETTER_SUFFIX!r})")
        if isinstance(senders, str) or not all(FEED_SENDER.match(s) for s in senders):
            raise ValueError(f"{config.name}: the senders of feed channel {channel!r} must be a tuple of "
                             f"{FEED_SENDER_ACCOUNT!r}, 'role/<name>' or IAM ARNs; got {senders!r}")


def _channel_read_back(config: EnvironmentConfig, channel: str) -> str | None:
    """The channel the intake function reads from this channel's queue name: one rule parses
    queue names (functions/capture/feeds.py), this config only builds them."""
    try:
        return feed_queue(f"arn:aws:sqs:eu-central-1:123456789012:{config.intake_queue_name(channel)}").channel
    except ValueError:
        return None


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

        check_feed_channels(config)
        #: channel -> its intake queue and DLQ, in the config's order
        self.intake_queues: Mapping[str, IntakeQueue] = {
            channel: self._intake_queue(channel, senders) for channel, senders in config.feed_channels.items()
        }
        #: The invoices and credit notes to render (functions/invoice: the stream sends, render reads).
        self.document_queue = self.work_queue("Documents", purpose="documents",
                                              max_receive_count=DOCUMENT_MAX_RECEIVE_COUNT)

    def work_queue(self, construct_id: str, *, purpose: str, max_receive_count: int) -> sqs.Queue:
        """An SSL-only, encrypted queue of work for one function, with its DLQ (alarmed)."""
        dlq = self.dead_letter_queue(f"{construct_id}Dlq", purpose=f"{purpose}-dlq")
        return sqs.Queue(
            self,
            f"{construct_id}Queue",
            queue_name=self._config.queue_name(purpose),
            enforce_ssl=True,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            visibility_timeout=Duration.seconds(self._config.timeout.to_seconds() * INTAKE_VISIBILITY_TIMEOUT_FACTOR),
            dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=max_receive_count),
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

    def _intake_queue(self, channel: str, senders: tuple[str, ...]) -> IntakeQueue:
        construct_id = "Intake" + "".join(part.capitalize() for part in channel.split("-"))
        name = self._config.intake_queue_name(channel)
        dlq = self.dead_letter_queue(f"{construct_id}Dlq", purpose=f"intake-{channel}-dlq")
        queue = sqs.Queue(
            self,
            f"{construct_id}Queue",
            queue_name=name,
            enforce_ssl=True,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            visibility_timeout=Duration.seconds(self._config.timeout.to_seconds() * INTAKE_VISIBILITY_TIMEOUT_FACTOR),
            dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=INTAKE_MAX_RECEIVE_COUNT),
        )
        send = ("sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl")
        for statement in self._allow_senders("ChannelSendersMaySend", senders, send, queue.queue_arn):
            queue.add_to_resource_policy(statement)
        for statement in self._allow_senders("ChannelSendersMayReadRefusedOrders", senders, DLQ_READ_ACTIONS,
                                             dlq.queue_arn):
            dlq.add_to_resource_policy(statement)
        queue.add_to_resource_policy(iam.PolicyStatement(
            sid="OnlyChannelSendersMaySend", effect=iam.Effect.DENY, principals=[iam.AnyPrincipal()],
            actions=["sqs:SendMessage"], resources=[queue.queue_arn], conditions=self._not_senders(senders)))
        return IntakeQueue(channel=channel, queue=queue, dead_letter_queue=dlq)

    def _allow_senders(self, sid: str, senders: tuple[str, ...], actions: tuple[str, ...],
                       resource: str) -> list[iam.PolicyStatement]:
        """Allow statements naming the senders. A role is named by ``aws:PrincipalArn`` on its
        account's principal, not as a principal itself: SQS refuses a policy naming a role that
        does not exist yet (a connector's role may come later), and a role re-created under the
        same name keeps its access (a principal ARN is pinned to the role's unique id)."""
        statements = []
        if FEED_SENDER_ACCOUNT in senders:
            statements.append(iam.PolicyStatement(sid=f"{sid}Account", principals=[iam.AccountRootPrincipal()],
                                                  actions=list(actions), resources=[resource]))
        arns = [self._arn(s) for s in senders if s != FEED_SENDER_ACCOUNT]
        if arns:
            accounts: list[iam.IPrincipal] = []
            if any(s.startswith("role/") for s in senders):
                accounts.append(iam.AccountRootPrincipal())
            # a full ARN's account (e.g. a connector's own AWS account)
            for account in sorted({s.split(":")[4] for s in senders if s.startswith("arn:")}):
                accounts.append(iam.AccountPrincipal(account))
            statements.append(iam.PolicyStatement(sid=f"{sid}Principals", principals=accounts,
                                                  actions=list(actions), resources=[resource],
                                                  conditions={"ArnEquals": {"aws:PrincipalArn": arns}}))
        return statements

    def _arn(self, sender: str) -> str:
        if sender.startswith("role/"):
            stack = Stack.of(self)
            return f"arn:{stack.partition}:iam::{stack.account}:{sender}"
        return sender

    def _not_senders(self, senders: tuple[str, ...]) -> dict[str, dict[str, list[str]]]:
        """The Deny's condition: the caller is none of the senders (both keys must miss, as a
        condition's keys are ANDed). No senders: no condition, every SendMessage is denied."""
        conditions: dict[str, dict[str, list[str]]] = {}
        if FEED_SENDER_ACCOUNT in senders:
            # the account root principal delegates to the account's IAM policies: any of its principals
            conditions["StringNotEquals"] = {"aws:PrincipalAccount": [Stack.of(self).account]}
        arns = [self._arn(s) for s in senders if s != FEED_SENDER_ACCOUNT]
        if arns:
            # aws:PrincipalArn is the role's ARN (not the session's) for an assumed role
            conditions["ArnNotEquals"] = {"aws:PrincipalArn": arns}
        return conditions
