"""CloudFormation resource types moto 5.2.5 skips, created through moto's existing backends.

moto has backends (and API calls) for these but no CloudFormation model, so ``create_stack``
logs "No Moto CloudFormation support" and still reaches CREATE_COMPLETE without them: the API
has no stage (the ``ApiUrl`` output ends in ``/None/``), no authorizer, validators, gateway
responses, API keys or usage plans; queue and topic policies and alarms are missing:

``AWS::ApiGateway::{Stage, Authorizer, RequestValidator, GatewayResponse, ApiKey, UsagePlan,
UsagePlanKey}``, ``AWS::SQS::QueuePolicy``, ``AWS::S3::BucketPolicy``, ``AWS::SNS::TopicPolicy``,
``AWS::SNS::Subscription``,
``AWS::CloudWatch::Alarm``, ``AWS::SecretsManager::Secret``, ``AWS::Scheduler::Schedule`` (stored
in moto's scheduler backend, which fires nothing: ``localcloud/schedules.py`` runs them), and the
finance archive's ``AWS::KinesisFirehose::DeliveryStream`` (delivered by
``patches.firehose_delivery``), ``AWS::Logs::LogStream`` (its error log), ``AWS::Glue::Database``
and ``AWS::Glue::Table`` (stored in moto's Glue catalog: ``get_table`` answers as in AWS; there is
no Athena to query it locally).

moto finds models through ``parsing.get_model_list()`` (the *direct* subclasses of
``CloudFormationModel``, cached); ``install()`` makes that list include these models and clears
moto's caches. Policies are stored but, as everywhere in moto, not enforced; alarms are stored but never evaluated.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, ClassVar

from moto.apigateway.models import apigateway_backends
from moto.cloudformation import parsing
from moto.cloudwatch.models import cloudwatch_backends
from moto.core.common_models import CloudFormationModel
from moto.firehose.models import firehose_backends
from moto.glue.models import glue_backends
from moto.logs.models import logs_backends
from moto.s3.models import s3_backends
from moto.scheduler.models import scheduler_backends
from moto.secretsmanager.models import secretsmanager_backends
from moto.sns.models import sns_backends
from moto.sqs.models import sqs_backends
from moto.utilities.utils import get_partition


class _Created(CloudFormationModel):
    """What a created resource looks like to CloudFormation: Ref value, GetAtt values, delete."""

    TYPE: ClassVar[str] = ""
    NAME_PROPERTY: ClassVar[str] = ""

    def __init__(self, ref: str, account_id: str, region_name: str, **attributes: Any) -> None:
        self.ref = ref
        self.account_id = account_id
        self.region_name = region_name
        self.attributes = attributes

    @property
    def physical_resource_id(self) -> str:
        return self.ref

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.TYPE

    @classmethod
    def cloudformation_name_type(cls) -> str:
        return cls.NAME_PROPERTY

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return True

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        return self.attributes[attribute_name]

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Any:
        original_resource.delete(account_id, region_name)
        return cls.create_from_cloudformation_json(  # type: ignore[attr-defined]
            new_resource_name, cloudformation_json, account_id, region_name
        )

    @classmethod
    def delete_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        """Deleting by name is not needed: moto calls ``delete`` on the created object."""

    def delete(self, account_id: str, region_name: str) -> None:
        """Most of these resources disappear with their parent; override where not."""


def _tags(properties: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in properties.get("Tags", [])}


def _camel(settings: dict[str, Any] | None) -> dict[str, Any]:
    return {k[0].lower() + k[1:]: v for k, v in (settings or {}).items()}


class ApiGatewayStage(_Created):
    TYPE, NAME_PROPERTY = "AWS::ApiGateway::Stage", "StageName"

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> ApiGatewayStage:
        p = cloudformation_json["Properties"]
        stage = apigateway_backends[account_id][region_name].create_stage(
            p["RestApiId"],
            p.get("StageName", resource_name),
            p["DeploymentId"],
            variables=p.get("Variables"),
            description=p.get("Description", ""),
            tags=_tags(p),
            tracing_enabled=p.get("TracingEnabled"),
        )
        created = cls(stage.name, account_id, region_name)
        created.api_id = p["RestApiId"]
        return created

    def delete(self, account_id: str, region_name: str) -> None:
        apigateway_backends[account_id][region_name].delete_stage(self.api_id, self.ref)


class ApiGatewayAuthorizer(_Created):
    TYPE, NAME_PROPERTY = "AWS::ApiGateway::Authorizer", "Name"

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> ApiGatewayAuthorizer:
        p = cloudformation_json["Properties"]
        ttl = p.get("AuthorizerResultTtlInSeconds")
        authorizer = apigateway_backends[account_id][region_name].create_authorizer(
            p["RestApiId"],
            p.get("Name", resource_name),
            p["Type"],
            provider_arns=p.get("ProviderARNs"),
            auth_type=p.get("AuthType"),
            authorizer_uri=p.get("AuthorizerUri"),
            authorizer_credentials=p.get("AuthorizerCredentials"),
            identity_source=p.get("IdentitySource"),
            identiy_validation_expression=p.get("IdentityValidationExpression"),
            authorizer_result_ttl=300 if ttl is None else int(ttl),
        )
        created = cls(authorizer.id, account_id, region_name, AuthorizerId=authorizer.id)
        created.api_id = p["RestApiId"]
        return created

    def delete(self, account_id: str, region_name: str) -> None:
        apigateway_backends[account_id][region_name].delete_authorizer(self.api_id, self.ref)


class ApiGatewayRequestValidator(_Created):
    TYPE, NAME_PROPERTY = "AWS::ApiGateway::RequestValidator", "Name"

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> ApiGatewayRequestValidator:
        p = cloudformation_json["Properties"]
        validator = apigateway_backends[account_id][region_name].create_request_validator(
            p["RestApiId"],
            p.get("Name", resource_name),
            bool(p.get("ValidateRequestBody", False)),
            bool(p.get("ValidateRequestParameters", False)),
        )
        created = cls(validator.id, account_id, region_name, RequestValidatorId=validator.id)
        created.api_id = p["RestApiId"]
        return created

    def delete(self, account_id: str, region_name: str) -> None:
        apigateway_backends[account_id][region_name].delete_request_validator(self.api_id, self.ref)


class ApiGatewayGatewayResponse(_Created):
    TYPE = "AWS::ApiGateway::GatewayResponse"

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> ApiGatewayGatewayResponse:
        p = cloudformation_json["Properties"]
        apigateway_backends[account_id][region_name].put_gateway_response(
            rest_api_id=p["RestApiId"],
            response_type=p["ResponseType"],
            status_code=p.get("StatusCode"),  # type: ignore[arg-type]
            response_parameters=p.get("ResponseParameters"),
            response_templates=p.get("ResponseTemplates"),
        )
        created = cls(f"{p['RestApiId']}-{p['ResponseType']}", account_id, region_name)
        created.api_id, created.response_type = p["RestApiId"], p["ResponseType"]
        return created

    def delete(self, account_id: str, region_name: str) -> None:
        apigateway_backends[account_id][region_name].delete_gateway_response(self.api_id, self.response_type)


class ApiGatewayApiKey(_Created):
    TYPE, NAME_PROPERTY = "AWS::ApiGateway::ApiKey", "Name"

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> ApiGatewayApiKey:
        p = cloudformation_json["Properties"]
        key = apigateway_backends[account_id][region_name].create_api_key(
            {
                "name": p.get("Name", resource_name),
                "description": p.get("Description"),
                "enabled": bool(p.get("Enabled", False)),
                "value": p.get("Value"),
                "customerId": p.get("CustomerId"),
                "tags": _tags(p),
                "stageKeys": [f"{s['RestApiId']}/{s['StageName']}" for s in p.get("StageKeys", [])],
            }
        )
        return cls(key.id, account_id, region_name, APIKeyId=key.id)

    def delete(self, account_id: str, region_name: str) -> None:
        apigateway_backends[account_id][region_name].delete_api_key(self.ref)


class ApiGatewayUsagePlan(_Created):
    TYPE, NAME_PROPERTY = "AWS::ApiGateway::UsagePlan", "UsagePlanName"

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> ApiGatewayUsagePlan:
        p = cloudformation_json["Properties"]
        plan = apigateway_backends[account_id][region_name].create_usage_plan(
            {
                "name": p.get("UsagePlanName", resource_name),
                "description": p.get("Description"),
                "apiStages": [
                    {"apiId": s["ApiId"], "stage": s["Stage"], "throttle": s.get("Throttle") or {}}
                    for s in p.get("ApiStages", [])
                ],
                "throttle": _camel(p.get("Throttle")),
                "quota": _camel(p.get("Quota")),
                "tags": _tags(p),
            }
        )
        return cls(plan.id, account_id, region_name, Id=plan.id)

    def delete(self, account_id: str, region_name: str) -> None:
        apigateway_backends[account_id][region_name].delete_usage_plan(self.ref)


class ApiGatewayUsagePlanKey(_Created):
    TYPE = "AWS::ApiGateway::UsagePlanKey"

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> ApiGatewayUsagePlanKey:
        p = cloudformation_json["Properties"]
        apigateway_backends[account_id][region_name].create_usage_plan_key(
            p["UsagePlanId"], {"keyId": p["KeyId"], "keyType": p.get("KeyType", "API_KEY")}
        )
        created = cls(p["KeyId"], account_id, region_name, Id=p["KeyId"])
        created.plan_id = p["UsagePlanId"]
        return created

    def delete(self, account_id: str, region_name: str) -> None:
        apigateway_backends[account_id][region_name].delete_usage_plan_key(self.plan_id, self.ref)


class SqsQueuePolicy(_Created):
    TYPE = "AWS::SQS::QueuePolicy"

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> SqsQueuePolicy:
        p = cloudformation_json["Properties"]
        backend = sqs_backends[account_id][region_name]
        for url in p["Queues"]:
            backend.set_queue_attributes(url.rsplit("/", 1)[-1], {"Policy": json.dumps(p["PolicyDocument"])})
        return cls(str(uuid.uuid4()), account_id, region_name, Id=resource_name)


class S3BucketPolicy(_Created):
    """Stored as the bucket's policy, less its statements on ``aws:SecureTransport`` (CDK's
    ``enforce_ssl`` denies plain HTTP): the emulator serves plain HTTP only, and moto evaluates
    bucket policies, so it would refuse every request. Every other statement stays."""

    TYPE = "AWS::S3::BucketPolicy"

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> S3BucketPolicy:
        p = cloudformation_json["Properties"]
        document = dict(p["PolicyDocument"])
        document["Statement"] = [s for s in document.get("Statement", [])
                                 if "aws:SecureTransport" not in json.dumps(s.get("Condition", {}))]
        if document["Statement"]:
            s3_backends[account_id][get_partition(region_name)].put_bucket_policy(
                p["Bucket"], json.dumps(document).encode())
        return cls(str(uuid.uuid4()), account_id, region_name, Id=resource_name)


class SnsTopicPolicy(_Created):
    TYPE = "AWS::SNS::TopicPolicy"

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> SnsTopicPolicy:
        p = cloudformation_json["Properties"]
        for arn in p["Topics"]:
            # the backend takes the attribute's Python name (SetTopicAttributes converts "Policy")
            sns_backends[account_id][region_name].set_topic_attribute(arn, "policy", json.dumps(p["PolicyDocument"]))
        return cls(str(uuid.uuid4()), account_id, region_name, Id=resource_name)


class SnsSubscription(_Created):
    TYPE = "AWS::SNS::Subscription"

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> SnsSubscription:
        p = cloudformation_json["Properties"]
        backend = sns_backends[account_id][region_name]
        subscription = backend.subscribe(p["TopicArn"], p["Endpoint"], p["Protocol"])
        for name in ("FilterPolicy", "FilterPolicyScope", "RawMessageDelivery", "RedrivePolicy"):
            if name in p:
                value = p[name]
                value = json.dumps(value) if isinstance(value, dict) else str(value).lower()
                backend.set_subscription_attributes(subscription.arn, name, value)
        return cls(subscription.arn, account_id, region_name, Arn=subscription.arn)

    def delete(self, account_id: str, region_name: str) -> None:
        sns_backends[account_id][region_name].unsubscribe(self.ref)


class CloudWatchAlarm(_Created):
    TYPE, NAME_PROPERTY = "AWS::CloudWatch::Alarm", "AlarmName"

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> CloudWatchAlarm:
        p = cloudformation_json["Properties"]
        alarm = cloudwatch_backends[account_id][region_name].put_metric_alarm(
            name=p.get("AlarmName", resource_name),
            namespace=p.get("Namespace"),
            metric_name=p.get("MetricName"),
            comparison_operator=p["ComparisonOperator"],
            evaluation_periods=int(p["EvaluationPeriods"]),
            period=int(p.get("Period", 60)),
            threshold=float(p.get("Threshold", 0)),
            statistic=p.get("Statistic"),
            description=p.get("AlarmDescription"),
            dimensions=p.get("Dimensions", []),
            alarm_actions=p.get("AlarmActions", []),
            datapoints_to_alarm=p.get("DatapointsToAlarm"),
            extended_statistic=p.get("ExtendedStatistic"),
            ok_actions=p.get("OKActions", []),
            insufficient_data_actions=p.get("InsufficientDataActions", []),
            unit=p.get("Unit"),
            actions_enabled=bool(p.get("ActionsEnabled", True)),
            treat_missing_data=p.get("TreatMissingData"),
        )
        return cls(alarm.name, account_id, region_name, Arn=alarm.alarm_arn)

    def delete(self, account_id: str, region_name: str) -> None:
        cloudwatch_backends[account_id][region_name].delete_alarms([self.ref])


class SecretsManagerSecret(_Created):
    """A secret with its ``SecretString`` or one generated as ``GenerateSecretString`` asks
    (through moto's GetRandomPassword). Ref and ``Id`` are the ARN, as in CloudFormation."""

    TYPE, NAME_PROPERTY = "AWS::SecretsManager::Secret", "Name"

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> SecretsManagerSecret:
        p = cloudformation_json["Properties"]
        backend = secretsmanager_backends[account_id][region_name]
        value = p.get("SecretString")
        if value is None:
            g = p.get("GenerateSecretString") or {}
            value = backend.get_random_password(
                password_length=int(g.get("PasswordLength", 32)),
                exclude_characters=g.get("ExcludeCharacters", ""),
                exclude_numbers=bool(g.get("ExcludeNumbers", False)),
                exclude_punctuation=bool(g.get("ExcludePunctuation", False)),
                exclude_uppercase=bool(g.get("ExcludeUppercase", False)),
                exclude_lowercase=bool(g.get("ExcludeLowercase", False)),
                include_space=bool(g.get("IncludeSpace", False)),
                require_each_included_type=bool(g.get("RequireEachIncludedType", True)),
            )
            value = json.loads(value)["RandomPassword"]
        created = json.loads(backend.create_secret(
            name=p.get("Name", resource_name), secret_string=value, secret_binary=None,
            description=p.get("Description"), tags=p.get("Tags"), kms_key_id=p.get("KmsKeyId"),
            client_request_token=None, replica_regions=[], force_overwrite=False))
        return cls(created["ARN"], account_id, region_name, Id=created["ARN"])

    def delete(self, account_id: str, region_name: str) -> None:
        secretsmanager_backends[account_id][region_name].delete_secret(
            self.ref, recovery_window_in_days=None, force_delete_without_recovery=True)


class SchedulerSchedule(_Created):
    """A schedule as EventBridge Scheduler's CreateSchedule takes it (the CloudFormation
    properties are the API's). Ref is the name, ``Arn`` its ARN, as in CloudFormation."""

    TYPE, NAME_PROPERTY = "AWS::Scheduler::Schedule", "Name"

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> SchedulerSchedule:
        p = cloudformation_json["Properties"]
        schedule = scheduler_backends[account_id][region_name].create_schedule(
            description=p.get("Description", ""), end_date=p.get("EndDate"),
            flexible_time_window=p["FlexibleTimeWindow"], group_name=p.get("GroupName") or "default",
            kms_key_arn=p.get("KmsKeyArn"), name=p.get("Name", resource_name),
            schedule_expression=p["ScheduleExpression"],
            schedule_expression_timezone=p.get("ScheduleExpressionTimezone"), start_date=p.get("StartDate"),
            state=p.get("State"), target=dict(p["Target"]), action_after_completion=None)
        created = cls(schedule.name, account_id, region_name, Arn=schedule.arn)
        created.group_name = schedule.group_name
        return created

    def delete(self, account_id: str, region_name: str) -> None:
        scheduler_backends[account_id][region_name].delete_schedule(self.group_name, self.ref)


class FirehoseDeliveryStream(_Created):
    """A delivery stream as CreateDeliveryStream takes it (the CloudFormation properties are the
    API's, destination configurations included). Ref is the name, ``Arn`` its ARN."""

    TYPE, NAME_PROPERTY = "AWS::KinesisFirehose::DeliveryStream", "DeliveryStreamName"
    DESTINATIONS: ClassVar[tuple[str, ...]] = (
        "S3DestinationConfiguration", "ExtendedS3DestinationConfiguration", "RedshiftDestinationConfiguration",
        "ElasticsearchDestinationConfiguration", "SplunkDestinationConfiguration",
        "HttpEndpointDestinationConfiguration", "SnowflakeDestinationConfiguration",
        "IcebergDestinationConfiguration")

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> FirehoseDeliveryStream:
        p = cloudformation_json["Properties"]
        name = p.get("DeliveryStreamName", resource_name)
        s3, extended, redshift, elasticsearch, splunk, http, snowflake, iceberg = (
            p.get(key) for key in cls.DESTINATIONS)
        arn = firehose_backends[account_id][region_name].create_delivery_stream(
            region_name, name, p.get("DeliveryStreamType", "DirectPut"),
            p.get("KinesisStreamSourceConfiguration"), p.get("DeliveryStreamEncryptionConfigurationInput"),
            s3, extended, redshift, elasticsearch, splunk, http, snowflake, iceberg, p.get("Tags", []))
        return cls(name, account_id, region_name, Arn=arn)

    def delete(self, account_id: str, region_name: str) -> None:
        firehose_backends[account_id][region_name].delete_delivery_stream(self.ref)


class LogsLogStream(_Created):
    TYPE, NAME_PROPERTY = "AWS::Logs::LogStream", "LogStreamName"

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> LogsLogStream:
        p = cloudformation_json["Properties"]
        name = p.get("LogStreamName", resource_name)
        logs_backends[account_id][region_name].create_log_stream(p["LogGroupName"], name)
        created = cls(name, account_id, region_name)
        created.group = p["LogGroupName"]
        return created

    def delete(self, account_id: str, region_name: str) -> None:
        logs_backends[account_id][region_name].delete_log_stream(self.group, self.ref)


class GlueDatabase(_Created):
    """Ref is the database's name, as in CloudFormation."""

    TYPE = "AWS::Glue::Database"

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> GlueDatabase:
        database_input = dict(cloudformation_json["Properties"]["DatabaseInput"])
        name = database_input.get("Name", resource_name)
        glue_backends[account_id][region_name].create_database(name, database_input)
        return cls(name, account_id, region_name)

    def delete(self, account_id: str, region_name: str) -> None:
        glue_backends[account_id][region_name].delete_database(self.ref)


class GlueTable(_Created):
    """Ref is the table's name, as in CloudFormation."""

    TYPE = "AWS::Glue::Table"

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> GlueTable:
        p = cloudformation_json["Properties"]
        table_input = dict(p["TableInput"])
        name = table_input.get("Name", resource_name)
        glue_backends[account_id][region_name].create_table(p["DatabaseName"], name, table_input)
        created = cls(name, account_id, region_name)
        created.database = p["DatabaseName"]
        return created

    def delete(self, account_id: str, region_name: str) -> None:
        glue_backends[account_id][region_name].delete_table(self.database, self.ref)


MODELS: tuple[type[CloudFormationModel], ...] = (
    ApiGatewayStage,
    ApiGatewayAuthorizer,
    ApiGatewayRequestValidator,
    ApiGatewayGatewayResponse,
    ApiGatewayApiKey,
    ApiGatewayUsagePlan,
    ApiGatewayUsagePlanKey,
    SqsQueuePolicy,
    S3BucketPolicy,
    SnsTopicPolicy,
    SnsSubscription,
    CloudWatchAlarm,
    SecretsManagerSecret,
    SchedulerSchedule,
    FirehoseDeliveryStream,
    LogsLogStream,
    GlueDatabase,
    GlueTable,
)


_ORIGINAL_MODEL_LIST = parsing.get_model_list


def _model_list() -> list[type[CloudFormationModel]]:
    return [m for m in _ORIGINAL_MODEL_LIST() if m is not _Created] + list(MODELS)


def _clear_caches() -> None:
    parsing.get_model_map.cache_clear()
    parsing.get_name_type_map.cache_clear()


def install() -> None:
    parsing.get_model_list = _model_list  # type: ignore[assignment]
    _clear_caches()
