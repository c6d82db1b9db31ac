"""The finance archive: every finance event on the bus, kept in S3 as JSON lines, queryable with Athena.

bus rule (source ``oms.invoice``, the detail-types of ``schemas/events/``) → Firehose (DirectPut)
→ the finance bucket, ``events/dt=<yyyy-MM-dd>/<stream>-<version>-<yyyy-MM-dd-HH-mm-ss>-<uuid>``,
one EventBridge event (the whole envelope: ``id``, ``detail-type``, ``source``, ``time``, …,
``detail``) per line; a Glue database and table over ``events/`` with partition projection on
``dt`` (no crawler, no partitions to add).

``errors/<error-output-type>/dt=<yyyy-MM-dd>/`` is the error output prefix: for an S3 destination
Firehose writes there only records whose *processing* failed (a Lambda transform, format
conversion, dynamic partitioning), never records it could not deliver
(https://docs.aws.amazon.com/firehose/latest/dev/retry.html). This stream's only processor,
``AppendDelimiterToRecord``, fails no record, so nothing is expected there; the prefix exists
because AWS refuses a data prefix with expressions without an error prefix holding
``!{firehose:error-output-type}``. A delivery to S3 that fails (role, bucket policy, KMS, S3) is
retried while Firehose keeps the records, 24 hours for DirectPut, and then the records are lost:
the DataFreshness alarm (infra/constructs/monitoring.py) is the warning, 24 hours the deadline,
and the table, which keeps every document and payment, is what the export reconciles a loss
against (docs/OPERATIONS.md, "The finance archive").

Choices, and why:

- One record a line: EventBridge sends each event to Firehose as one record with no delimiter,
  and Firehose concatenates records. Firehose's ``AppendDelimiterToRecord`` processor adds the
  newline (API reference, "Processor": "If you want to add a new line delimiter between records
  in objects that are delivered to Amazon S3, choose AppendDelimiterToRecord as a processor type";
  https://docs.aws.amazon.com/firehose/latest/APIReference/API_Processor.html). It works without
  dynamic partitioning, configured as a processor of ``ProcessingConfiguration`` (the console's
  "New line delimiter" setting: aws-cloudformation/cloudformation-coverage-roadmap#1935, and
  terraform-aws-kinesis-firehose PR #13, which dropped the dynamic-partitioning requirement for
  it). An EventBridge input transformer cannot add a bare newline after a JSON template.
- Partitioned by the arrival day (``!{timestamp:yyyy-MM-dd}``: "the approximate arrival timestamp
  of the oldest record that's contained in the Amazon S3 object being written", UTC;
  https://docs.aws.amazon.com/firehose/latest/dev/s3-prefixes.html), not by the event's own
  ``time`` through dynamic partitioning: that would bill per GB partitioned, per S3 object
  delivered and per JQ processing hour, several times the ingestion, and an object never spans
  more than one buffer (300 s). A reader of a day reads its neighbours' partitions too and
  filters on the record (an event at 23:59:58 can arrive after midnight).
- Buffering 5 MiB / 300 s: one S3 object per five minutes at most (S3 PUTs, and Athena's files to
  open); the archive is read by the month, never within minutes. The local stack writes each
  delivery at once (localcloud/patches/firehose_delivery.py), so the same template serves both.
- Uncompressed JSON: a record is ~1 KB; Athena reads GZIP as well, but the export and the local
  reader would need to know; the bucket's lifecycle moves objects to Glacier Instant Retrieval.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aws_cdk import ArnFormat, Aws, Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.constructs.data import records_bucket
from infra.constructs.messaging import Messaging
from infra.constructs.monitoring import Monitoring

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas" / "events"
#: Who publishes the finance events (functions/invoice/finance_events.py SOURCE).
SOURCE = "oms.invoice"
EVENTS_PREFIX = "events/"
DATA_PREFIX = EVENTS_PREFIX + "dt=!{timestamp:yyyy-MM-dd}/"
ERROR_PREFIX = "errors/!{firehose:error-output-type}/dt=!{timestamp:yyyy-MM-dd}/"
BUFFER_MIB = 5
BUFFER_SECONDS = 300
COLD_AFTER = Duration.days(90)  # to Glacier Instant Retrieval: read at month end, audited years later
#: The first day a partition can have (partition projection's range starts there).
FIRST_DAY = "2026-01-01"
TABLE = "finance_events"


def archived_event_types() -> tuple[str, ...]:
    """The detail-types the archive keeps: one per schema in schemas/events/."""
    return tuple(sorted(p.stem for p in SCHEMAS.glob("*.json")))


def _data_fields() -> list[str]:
    """Every field of ``detail.data`` over the archived events' schemas (all text, amounts too)."""
    fields: dict[str, None] = {}
    for name in archived_event_types():
        schema = json.loads((SCHEMAS / f"{name}.json").read_text())
        fields.update(dict.fromkeys(schema["properties"]["data"]["properties"]))
    return sorted(fields)


def detail_type() -> str:
    """The Glue (Hive) type of the events' ``detail``: the envelope's metadata and the union of
    the events' data fields, so Athena reads ``detail.data.gross`` without parsing JSON."""
    metadata = "struct<event_id:string,occurred_at:string,version:string,correlation_id:string>"
    data = "struct<" + ",".join(f"{f}:string" for f in _data_fields()) + ">"
    return f"struct<metadata:{metadata},data:{data}>"


class Archive(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, messaging: Messaging,
                 monitoring: Monitoring) -> None:
        super().__init__(scope, construct_id)
        name = config.queue_name("finance-archive")  # oms-<env>-finance-archive
        self.bucket = records_bucket(
            self, "FinanceBucket", config,
            s3.LifecycleRule(id="ColdAfter90Days", transitions=[s3.Transition(
                storage_class=s3.StorageClass.GLACIER_INSTANT_RETRIEVAL, transition_after=COLD_AFTER)]),
            # objects under 128 KB stay in Standard (Glacier IR bills 128 KB minimum per object)
            transition_default_minimum_object_size=s3.TransitionDefaultMinimumObjectSize.ALL_STORAGE_CLASSES_128_K,
        )  # RETAIN in prod: the books
        self.delivery_stream_name = name
        self.rule_name = name
        self._error_log(config, name)
        delivery_role = iam.Role(self, "DeliveryRole", assumed_by=iam.ServicePrincipal(
            "firehose.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}}),
            description="Firehose writes the finance archive into its bucket")
        delivery_role.add_to_policy(iam.PolicyStatement(
            actions=["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
            resources=[self.bucket.bucket_arn]))
        delivery_role.add_to_policy(iam.PolicyStatement(
            actions=["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"],
            resources=[self.bucket.arn_for_objects("events/*"), self.bucket.arn_for_objects("errors/*")]))
        delivery_role.add_to_policy(iam.PolicyStatement(
            actions=["logs:PutLogEvents"], resources=[self.error_log_stream_arn]))
        self.delivery_role = delivery_role
        self.delivery_stream = firehose.CfnDeliveryStream(
            self,
            "DeliveryStream",
            delivery_stream_name=name,
            delivery_stream_type="DirectPut",
            delivery_stream_encryption_configuration_input=firehose.CfnDeliveryStream
            .DeliveryStreamEncryptionConfigurationInputProperty(key_type="AWS_OWNED_CMK"),
            extended_s3_destination_configuration=firehose.CfnDeliveryStream.ExtendedS3DestinationConfigurationProperty(
                bucket_arn=self.bucket.bucket_arn,
                role_arn=delivery_role.role_arn,
                prefix=DATA_PREFIX,
                error_output_prefix=ERROR_PREFIX,
                buffering_hints=firehose.CfnDeliveryStream.BufferingHintsProperty(
                    interval_in_seconds=BUFFER_SECONDS, size_in_m_bs=BUFFER_MIB),
                compression_format="UNCOMPRESSED",
                processing_configuration=firehose.CfnDeliveryStream.ProcessingConfigurationProperty(
                    enabled=True,
                    # no parameter: the default delimiter is the newline ("You don't have to put a
                    # processor parameter when you select AppendDelimiterToRecord", ibid.)
                    processors=[firehose.CfnDeliveryStream.ProcessorProperty(type="AppendDelimiterToRecord")]),
                cloud_watch_logging_options=firehose.CfnDeliveryStream.CloudWatchLoggingOptionsProperty(
                    enabled=True, log_group_name=self.error_log.log_group_name,
                    log_stream_name=self.error_log_stream.log_stream_name),
            ),
        )
        # the role's policy must exist before Firehose checks it can write
        self.delivery_stream.node.add_dependency(delivery_role)
        monitoring.watch_delivery_stream("FinanceArchive", name)
        self._rule(messaging, monitoring)
        self._catalog(config)

    def _error_log(self, config: EnvironmentConfig, name: str) -> None:
        """Where Firehose logs why a delivery to S3 failed (it retries while it keeps the records,
        24 hours, then they are lost)."""
        self.error_log = logs.LogGroup(self, "DeliveryErrors", log_group_name=f"/aws/kinesisfirehose/{name}",
                                       retention=config.log_retention, removal_policy=config.removal_policy)
        self.error_log_stream = logs.LogStream(self, "DeliveryErrorStream", log_group=self.error_log,
                                               log_stream_name="DestinationDelivery",
                                               removal_policy=config.removal_policy)
        self.error_log_stream_arn = Stack.of(self).format_arn(
            service="logs", resource="log-group", arn_format=ArnFormat.COLON_RESOURCE_NAME,
            resource_name=f"{self.error_log.log_group_name}:log-stream:DestinationDelivery")

    def _rule(self, messaging: Messaging, monitoring: Monitoring) -> None:
        """The bus's finance events to the stream, as whole EventBridge events (no input shaping)."""
        self.dead_letter_queue = messaging.dead_letter_queue("FinanceArchiveDlq", purpose="finance-archive-dlq")
        self.rule = events.Rule(
            self,
            "Rule",
            rule_name=self.rule_name,
            description="Finance events to the finance archive (Firehose to S3)",
            event_bus=messaging.event_bus,
            event_pattern=events.EventPattern(source=[SOURCE], detail_type=list(archived_event_types())),
        )
        self.target_role = iam.Role(self, "TargetRole", assumed_by=iam.ServicePrincipal("events.amazonaws.com"),
                                    description="EventBridge puts the finance events into the archive's stream")
        self.target_role.add_to_policy(iam.PolicyStatement(
            actions=["firehose:PutRecord", "firehose:PutRecordBatch"], resources=[self.delivery_stream.attr_arn]))
        cfn_rule: Any = self.rule.node.default_child
        cfn_rule.targets = [events.CfnRule.TargetProperty(
            id="FinanceArchive",
            arn=self.delivery_stream.attr_arn,
            role_arn=self.target_role.role_arn,
            # EventBridge's defaults, said out loud: 24 hours and 185 attempts, then the DLQ
            retry_policy=events.CfnRule.RetryPolicyProperty(maximum_event_age_in_seconds=86_400,
                                                            maximum_retry_attempts=185),
            dead_letter_config=events.CfnRule.DeadLetterConfigProperty(arn=self.dead_letter_queue.queue_arn),
        )]
        self.dead_letter_queue.add_to_resource_policy(iam.PolicyStatement(
            actions=["sqs:SendMessage"], principals=[iam.ServicePrincipal("events.amazonaws.com")],
            resources=[self.dead_letter_queue.queue_arn],
            conditions={"ArnEquals": {"aws:SourceArn": self.rule.rule_arn}}))
        monitoring.watch_rule_target("FinanceArchiveRule", self.rule_name, messaging.event_bus.event_bus_name)

    def _catalog(self, config: EnvironmentConfig) -> None:
        """A Glue database and an external table over ``events/``, partition projection on ``dt``."""
        self.database_name = config.prefix.replace("-", "_") + "_finance"  # oms_<env>_finance
        self.database = glue.CfnDatabase(self, "Database", catalog_id=Aws.ACCOUNT_ID,
                                         database_input=glue.CfnDatabase.DatabaseInputProperty(
                                             name=self.database_name,
                                             description="The OMS finance archive (finance events as JSON lines)"))
        location = f"s3://{self.bucket.bucket_name}/{EVENTS_PREFIX}"
        column = glue.CfnTable.ColumnProperty
        self.table = glue.CfnTable(
            self,
            "Table",
            catalog_id=Aws.ACCOUNT_ID,
            database_name=self.database_name,
            table_input=glue.CfnTable.TableInputProperty(
                name=TABLE,
                description="One row per archived finance event (the EventBridge envelope; detail as published)",
                table_type="EXTERNAL_TABLE",
                parameters={
                    "classification": "json",
                    "projection.enabled": "true",
                    "projection.dt.type": "date",
                    "projection.dt.format": "yyyy-MM-dd",
                    "projection.dt.range": f"{FIRST_DAY},NOW",
                    "projection.dt.interval": "1",
                    "projection.dt.interval.unit": "DAYS",
                    "storage.location.template": location + "dt=${dt}/",
                },
                partition_keys=[column(name="dt", type="string", comment="arrival day, UTC (yyyy-MM-dd)")],
                storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                    location=location,
                    input_format="org.apache.hadoop.mapred.TextInputFormat",
                    output_format="org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
                    serde_info=glue.CfnTable.SerdeInfoProperty(
                        serialization_library="org.openx.data.jsonserde.JsonSerDe",
                        # Hive names cannot hold '-': the column detail_type reads "detail-type"
                        parameters={"mapping.detail_type": "detail-type", "ignore.malformed.json": "false"}),
                    columns=[
                        column(name="version", type="string"),
                        column(name="id", type="string", comment="EventBridge event id"),
                        column(name="detail_type", type="string", comment="the event's name (detail-type)"),
                        column(name="source", type="string"),
                        column(name="account", type="string"),
                        column(name="time", type="string", comment="when EventBridge received it, ISO 8601 UTC"),
                        column(name="region", type="string"),
                        column(name="resources", type="array<string>"),
                        column(name="detail", type=detail_type(),
                               comment="metadata and data as published (schemas/events/<detail-type>.json)"),
                    ],
                ),
            ),
        )
        self.table.add_resource_dependency(self.database)
