"""Alarms, the dashboard, and the topic alarms notify.

Constructs call the `watch_*` methods right where they create a resource, so an asynchronous
path cannot exist without its alarm. Every alarm notifies the alarm topic (subscribe on-call to it
outside the stack: emails and paging endpoints are not template material).
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.config import EnvironmentConfig

PERIOD = Duration.minutes(5)
GREATER = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
LESS = cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD
#: Firehose buffers up to 300 s (infra/constructs/archive.py): records older than three buffers
#: in the stream mean delivery to S3 is failing (and being retried for as long as Firehose keeps
#: them, 24 hours; then they are lost).
ARCHIVE_FRESHNESS_S = 900
NOT_BREACHING = cloudwatch.TreatMissingData.NOT_BREACHING  # no data = nothing happened


class Monitoring(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        self.alarm_topic = sns.Topic(self, "AlarmTopic", topic_name=f"{config.prefix}-alarms", enforce_ssl=True)
        self._action = cloudwatch_actions.SnsAction(self.alarm_topic)
        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=config.prefix)

    def _alarm(
        self, construct_id: str, metric: cloudwatch.IMetric, *, threshold: float, description: str,
        comparison: cloudwatch.ComparisonOperator = GREATER, evaluation_periods: int = 1,
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            metric=metric,
            threshold=threshold,
            evaluation_periods=evaluation_periods,
            comparison_operator=comparison,
            treat_missing_data=NOT_BREACHING,
            alarm_description=description,
        )
        alarm.add_alarm_action(self._action)
        return alarm

    def watch_dead_letter_queue(self, construct_id: str, queue: sqs.IQueue, *, what: str) -> None:
        """Anything in a DLQ is a message the system gave up on: alarm on the first one."""
        depth = queue.metric_approximate_number_of_messages_visible(period=Duration.minutes(1), statistic="Maximum")
        self._alarm(
            f"{construct_id}NotEmpty",
            depth,
            threshold=0,
            description=f"{what}: messages in the dead-letter queue need a look (and a redrive).",
        )
        self.dashboard.add_widgets(cloudwatch.GraphWidget(title=f"DLQ depth: {what}", left=[depth], width=8))

    def watch_api(self, api: apigateway.RestApi) -> None:
        thresholds = self._config.alarms
        server_errors = api.metric_server_error(period=PERIOD, statistic="Sum")
        self._alarm(
            "Api5xx",
            server_errors,
            threshold=thresholds.api_5xx_per_5_min,
            description="API Gateway answered with 5XX errors.",
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="API requests and errors",
                left=[api.metric_count(period=PERIOD), api.metric_client_error(period=PERIOD)],
                right=[server_errors],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="API latency p99",
                left=[api.metric_latency(period=PERIOD, statistic="p99")],
                width=12,
            ),
        )

    def watch_api_function(self, construct_id: str, function: lambda_.IFunction) -> None:
        p99 = function.metric_duration(period=PERIOD, statistic="p99")
        self._alarm(
            f"{construct_id}P99",
            p99,
            threshold=self._config.alarms.api_function_p99_ms,
            description="An API function's p99 duration is above its budget.",
        )
        self._function_widget(function, p99)

    def watch_authorizer(self, construct_id: str, function: lambda_.IFunction) -> None:
        errors = function.metric_errors(period=PERIOD, statistic="Sum")
        self._alarm(
            f"{construct_id}Errors",
            errors,
            threshold=self._config.alarms.authorizer_errors_per_5_min,
            description="The API authorizer failed: callers get 500 AUTHORIZER_FAILURE.",
        )
        self._function_widget(function, function.metric_duration(period=PERIOD, statistic="p99"))

    def watch_stream_consumer(self, construct_id: str, function: lambda_.IFunction) -> None:
        iterator_age = function.metric("IteratorAge", period=Duration.minutes(1), statistic="Maximum")
        self._alarm(
            f"{construct_id}IteratorAge",
            iterator_age,
            threshold=self._config.alarms.stream_iterator_age_ms,
            description="The table's stream consumer is falling behind.",
        )
        self._function_widget(function, iterator_age)

    def watch_worker(self, function: lambda_.IFunction) -> None:
        """Functions whose failures surface elsewhere (DLQ, workflow): dashboard only."""
        self._function_widget(function, function.metric_duration(period=PERIOD, statistic="p99"))

    def watch_state_machine(self, construct_id: str, machine: sfn.StateMachine) -> None:
        failed = machine.metric_failed(period=PERIOD, statistic="Sum")
        timed_out = machine.metric_timed_out(period=PERIOD, statistic="Sum")
        self._alarm(
            f"{construct_id}Failed",
            failed,
            threshold=0,
            description="Workflow executions failed; their orders stay where they were.",
        )
        self._alarm(
            f"{construct_id}TimedOut",
            timed_out,
            threshold=0,
            description="Workflow executions timed out.",
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title=f"Workflow {machine.node.id}",
                left=[machine.metric_started(period=PERIOD), machine.metric_succeeded(period=PERIOD)],
                right=[failed, timed_out],
                width=12,
            )
        )

    def watch_delivery_stream(self, construct_id: str, stream_name: str) -> None:
        """A DirectPut Firehose stream to S3: alarm when its oldest record waits too long and when
        deliveries fail. A failing delivery is retried while Firehose keeps the records — 24 hours
        from their arrival — and then they are lost: for an S3 destination the error prefix only
        gets records a processor failed on, never undelivered ones. DataFreshness at three buffers
        is the warning that leaves the day to fix the cause."""
        dimensions = {"DeliveryStreamName": stream_name}
        freshness = cloudwatch.Metric(namespace="AWS/Firehose", metric_name="DeliveryToS3.DataFreshness",
                                      dimensions_map=dimensions, period=PERIOD, statistic="Maximum")
        success = cloudwatch.Metric(namespace="AWS/Firehose", metric_name="DeliveryToS3.Success",
                                    dimensions_map=dimensions, period=PERIOD, statistic="Minimum")
        incoming = cloudwatch.Metric(namespace="AWS/Firehose", metric_name="IncomingRecords",
                                     dimensions_map=dimensions, period=PERIOD, statistic="Sum")
        self._alarm(
            f"{construct_id}DataFreshness",
            freshness,
            threshold=ARCHIVE_FRESHNESS_S,
            description=f"{stream_name}: records wait longer than {ARCHIVE_FRESHNESS_S} s for S3 "
                        "(delivery failing; see the stream's error log group). Firehose keeps them 24 h "
                        "from arrival, then they are lost: fix the cause within the day.",
        )
        self._alarm(
            f"{construct_id}DeliveryFailed",
            success,
            threshold=1,
            comparison=LESS,
            evaluation_periods=3,  # Firehose retries: 15 minutes of failed PUTs, not one
            description=f"{stream_name}: PUTs to S3 failing for 15 minutes (permissions, bucket policy, KMS).",
        )
        self.dashboard.add_widgets(cloudwatch.GraphWidget(
            title=f"Firehose {stream_name}", left=[incoming, success], right=[freshness], width=12))

    def watch_rule_target(self, construct_id: str, rule_name: str, bus_name: str) -> None:
        """An EventBridge rule on a custom bus whose target has a DLQ (the DLQ alarms on its own).

        AWS/Events publishes a custom bus's rule metrics with the dimensions ``EventBusName`` and
        ``RuleName`` (``RuleName`` alone is the default bus's: an alarm on it never sees ours).
        With a DLQ, ``FailedInvocations`` does not count what went to the DLQ; what is lost is
        ``InvocationsFailedToBeSentToDlq`` (neither delivered nor in the DLQ: the queue is gone, its
        policy refuses EventBridge, the message too large). ``RetryInvocationAttempts`` is the early
        warning: the target refuses and EventBridge retries (for 24 h, then the DLQ) — alarmed when
        it lasts three periods, so a throttled burst that recovers does not page
        (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-monitoring.html,
        eb-monitoring-events-best-practices.html)."""
        dimensions = {"EventBusName": bus_name, "RuleName": rule_name}
        lost = cloudwatch.Metric(namespace="AWS/Events", metric_name="InvocationsFailedToBeSentToDlq",
                                 dimensions_map=dimensions, period=PERIOD, statistic="Sum")
        retried = cloudwatch.Metric(namespace="AWS/Events", metric_name="RetryInvocationAttempts",
                                    dimensions_map=dimensions, period=PERIOD, statistic="Sum")
        self._alarm(
            f"{construct_id}NotSentToDlq",
            lost,
            threshold=0,
            description=f"EventBridge rule {rule_name}: events neither delivered nor put in the target's DLQ "
                        "(lost: the DLQ is missing, refuses EventBridge, or the event is too large).",
        )
        self._alarm(
            f"{construct_id}Retrying",
            retried,
            threshold=0,
            evaluation_periods=3,
            description=f"EventBridge rule {rule_name}: its target has refused deliveries for 15 minutes; "
                        "EventBridge retries for 24 h, then puts the events in the DLQ.",
        )
        self.dashboard.add_widgets(cloudwatch.GraphWidget(
            title=f"Rule {rule_name}", left=[retried], right=[lost], width=12))

    def _function_widget(self, function: lambda_.IFunction, extra: cloudwatch.IMetric) -> None:
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title=f"Function {function.node.id}",
                left=[
                    function.metric_invocations(period=PERIOD),
                    function.metric_errors(period=PERIOD),
                    function.metric_throttles(period=PERIOD),
                ],
                right=[extra],
                width=12,
            )
        )
