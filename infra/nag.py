"""cdk-nag (AwsSolutions) acknowledgements.

Every acknowledgement is scoped to the construct it covers (a role, a function, a method, a
queue) and names its finding; none is stack-wide, so a new resource with the same finding fails
synth until someone writes down why it is acceptable. cdk-nag runs for dev/staging/prod (and
for local whenever it shares the App with them): see infra/environments.py.

A role's ``AwsSolutions-IAM5[Resource::*]`` finding is acknowledged per action: the reason lists
each action the role allows on ``*`` with why that action cannot be scoped
(:data:`WILDCARD_ACTIONS`), and an action on ``*`` that has no entry there fails the synth
naming the role and the action — a new wildcard is never covered by an old acknowledgement.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, Stack, Validations
from aws_cdk import aws_iam as iam
from constructs import IConstruct

from infra.stack import OmsStack

WILDCARD_FINDING = "AwsSolutions-IAM5[Resource::*]"

_XRAY = "X-Ray active tracing; X-Ray has no resource-level permissions"
_LOG_DELIVERY = ("CloudWatch Logs vended-log delivery of the workflow's logs to its log group, which supports "
                 "no resource-level permissions")
#: The only actions a role may allow on every resource, each with why it cannot be scoped.
WILDCARD_ACTIONS: dict[str, str] = {
    "xray:PutTraceSegments": _XRAY,
    "xray:PutTelemetryRecords": _XRAY,
    "xray:GetSamplingRules": _XRAY,
    "xray:GetSamplingTargets": _XRAY,
    "dynamodb:ListStreams": ("the table stream's event source mapping lists the streams; ListStreams has no "
                             "resource-level permission (the stream reads name the stream ARN)"),
    "sns:Publish": ("a text message to a phone number has no ARN to scope to: allowed in the stack's region only, "
                    "and publishing to any SNS ARN (topic, endpoint) is denied in the same policy"),
    **{f"logs:{action}": _LOG_DELIVERY for action in (
        "CreateLogDelivery", "DeleteLogDelivery", "DescribeLogGroups", "DescribeResourcePolicies",
        "GetLogDelivery", "ListLogDeliveries", "PutResourcePolicy", "UpdateLogDelivery")},
}

REASONS = {
    "runtime": (
        "Python 3.13 is the runtime the dependencies layer (infra/dependencies.py: wheels for "
        "cp313 on arm64) and the project's pinned dependencies are built and tested for; moving "
        "to 3.14 is a deliberate upgrade of layer, runtime and tests together."
    ),
    "public-method": (
        "Deliberately public: health check and API description (OpenAPI document, docs page) "
        "carry no data and must work without an API key (load balancers, partners onboarding)."
    ),
    "api-key-authorizer": (
        "A B2B API for machine clients (shops, marketplaces, nodes, finance): callers present an "
        "API key that a Lambda REQUEST authorizer maps to a principal and role. There are no "
        "end-user identities, so there is no Cognito user pool."
    ),
    "request-validation": (
        "API Gateway validates request parameters (POST /orders requires Idempotency-Key) with a "
        "parameters-only validator; bodies are validated by the functions' pydantic models, "
        "which report the exact field that is wrong (problem+json)."
    ),
    "execution-logging": (
        "Execution logging needs the account-wide API Gateway CloudWatch role, which is account "
        "setup, not part of an app stack (feature flag disableCloudWatchRole). JSON access logs, "
        "X-Ray tracing and CloudWatch metrics are enabled on the stage."
    ),
    "waf": (
        "A WAFv2 web ACL is associated per account/region (e.g. by Firewall Manager), outside "
        "the app stack. In the stack: API keys on every data route, per-role usage-plan "
        "throttles and stage throttling."
    ),
    "schedule-dlq": (
        "This queue IS a dead-letter queue: the DeadLetterConfig of the reconciler's EventBridge "
        "Scheduler target (cdk-nag only recognises RedrivePolicy DLQs). It alarms on its first "
        "message; a DLQ for a DLQ would add nothing."
    ),
    "stream-dlq": (
        "This queue IS a dead-letter queue: the on-failure destination of the table stream's "
        "event source mapping (cdk-nag only recognises RedrivePolicy DLQs). It alarms on its "
        "first message; a DLQ for a DLQ would add nothing."
    ),
    "document-access-logs": (
        "The document bucket is written by one function and read only through presigned links that "
        "function roles sign; who asked for a link is in the API's access log, and object-level "
        "reads and writes go to CloudTrail data events where the account enables them. Server "
        "access logs would need a second bucket per environment that nobody reads."
    ),
    "document-objects": (
        "One action on the objects of the document bucket: the renderer puts (never reads or deletes) "
        "each document's two files, keyed <legal entity>/<year>/<number>, and the invoice API gets them "
        "(to sign the links). Numbers are issued at run time, so the objects cannot be named in advance."
    ),
    "archive-dlq": (
        "This queue IS a dead-letter queue: the DeadLetterConfig of the finance archive's EventBridge "
        "rule target (cdk-nag only recognises RedrivePolicy DLQs). It alarms on its first message; "
        "a DLQ for a DLQ would add nothing."
    ),
    "finance-access-logs": (
        "The finance bucket is written by one Firehose stream and read by finance through Athena and "
        "the export; who read it is in CloudTrail (Athena queries, and object-level data events where "
        "the account enables them). Server access logs would need a second bucket per environment "
        "that nobody reads."
    ),
    "finance-objects": (
        "Firehose's writes into the finance bucket, under exactly the two prefixes it writes (events/ "
        "and errors/): the object names carry the delivery time and a random suffix Firehose chooses "
        "at run time (<prefix><stream>-<version>-<timestamp>-<uuid>), so they cannot be named in advance. "
        "PutObject, GetObject and AbortMultipartUpload are the actions AWS documents for a Firehose "
        "S3 destination's role."
    ),
    "paging-key": (
        "The paging key only signs listing cursors (next_token); it is generated at deploy and "
        "grants no access to anything. Rotation is a put-secret-value whenever wanted: the only "
        "effect is that open cursors answer 400 and the client starts its listing again, so no "
        "rotation Lambda is deployed for it."
    ),
    "workflow-logging": (
        "Express workflow logs at ERROR without execution data: failed executions are logged "
        "(with the error), successful ones are traced in X-Ray and recorded in the order's "
        "timeline in the table. ALL would log every state transition of every order, with its "
        "personal data, at a cost above the workflow's own."
    ),
    "provider-key-rotation": (
        "The payment provider's API key is issued and rolled in the provider's dashboard (Stripe: "
        "Developers > API keys, roll key), not by a Secrets Manager rotation Lambda, which could "
        "not create a Stripe key. The operator puts the rolled key into this secret; functions "
        "re-read it within five minutes (Powertools max_age)."
    ),
}


def _ack(scope: IConstruct, rule_id: str, reason_key: str) -> None:
    Validations.of(scope).acknowledge(Acknowledgment(id=rule_id, reason=REASONS[reason_key]))


def wildcard_actions(role: iam.IRole) -> list[str]:
    """The actions ``role``'s policies allow on every resource (``*``)."""
    found: set[str] = set()
    for child in role.node.children:
        if isinstance(child, iam.Policy):
            document: Any = Stack.of(role).resolve(child.document)
            for statement in (document or {}).get("Statement", []):
                resources = statement.get("Resource", [])
                if statement.get("Effect") == "Allow" and "*" in ([resources] if isinstance(resources, str)
                                                                  else resources):
                    actions = statement.get("Action", [])
                    found.update([actions] if isinstance(actions, str) else actions)
    return sorted(found)


def _ack_wildcard_actions(role: iam.IRole) -> None:
    actions = wildcard_actions(role)
    unknown = [a for a in actions if a not in WILDCARD_ACTIONS]
    if unknown:
        raise ValueError(f"{role.node.path} allows {unknown} on every resource: scope them to their resources, "
                         "or (only if the service has no resource-level permission) say why in "
                         "infra/nag.py WILDCARD_ACTIONS")
    if actions:
        reason = "Actions on * only where the service has no resource-level permission: " + "; ".join(
            f"{action} ({WILDCARD_ACTIONS[action]})" for action in actions)
        Validations.of(role).acknowledge(Acknowledgment(id=WILDCARD_FINDING, reason=reason))


def acknowledge(stack: OmsStack) -> None:
    # --- Lambda functions: each function's own role and runtime --------------------------
    for function in stack.functions.functions:
        assert function.role is not None  # the factory always gives a role
        _ack_wildcard_actions(function.role)
        _ack(function, "AwsSolutions-L1", "runtime")

    # --- Step Functions -----------------------------------------------------------------
    for machine in stack.workflows.state_machines.values():
        _ack_wildcard_actions(machine.role)
        _ack(machine, "AwsSolutions-SF1", "workflow-logging")

    # --- API Gateway ----------------------------------------------------------------------
    api = stack.api.rest_api
    _ack(api.node.default_child, "AwsSolutions-APIG2", "request-validation")  # type: ignore[arg-type]
    _ack(stack.api.stage, "AwsSolutions-APIG3", "waf")
    _ack(stack.api.stage, "AwsSolutions-APIG6", "execution-logging")
    public = {method.node.path for method in stack.api.public_methods}
    for method in api.methods:
        if method.node.path in public:
            _ack(method, "AwsSolutions-APIG4", "public-method")
            _ack(method, "AwsSolutions-COG4", "public-method")
        else:
            _ack(method, "AwsSolutions-COG4", "api-key-authorizer")

    # --- Messaging ------------------------------------------------------------------------
    _ack(stack.data.paging_key, "AwsSolutions-SMG4", "paging-key")
    _ack(stack.data.document_bucket, "AwsSolutions-S1", "document-access-logs")
    bucket_id = Stack.of(stack.data.document_bucket).get_logical_id(
        stack.data.document_bucket.node.default_child)  # type: ignore[arg-type]
    for function in (stack.invoice.render_function, stack.invoice.api_function):
        assert function.role is not None
        Validations.of(function.role).acknowledge(Acknowledgment(
            id=f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/*]", reason=REASONS["document-objects"]))
    _ack(stack.capture.stream_dead_letter_queue, "AwsSolutions-SQS3", "stream-dlq")
    _ack(stack.notify.stream_dead_letter_queue, "AwsSolutions-SQS3", "stream-dlq")
    _ack(stack.invoice.stream_dead_letter_queue, "AwsSolutions-SQS3", "stream-dlq")
    _ack(stack.reconcile.dead_letter_queue, "AwsSolutions-SQS3", "schedule-dlq")

    # --- The finance archive ----------------------------------------------------------------
    archive = stack.archive
    _ack(archive.dead_letter_queue, "AwsSolutions-SQS3", "archive-dlq")
    _ack(archive.bucket, "AwsSolutions-S1", "finance-access-logs")
    finance_id = Stack.of(archive.bucket).get_logical_id(archive.bucket.node.default_child)  # type: ignore[arg-type]
    for prefix in ("events", "errors"):
        Validations.of(archive.delivery_role).acknowledge(Acknowledgment(
            id=f"AwsSolutions-IAM5[Resource::<{finance_id}.Arn>/{prefix}/*]", reason=REASONS["finance-objects"]))

    # --- Secrets --------------------------------------------------------------------------
    if stack.invoice.payment_secret is not None:
        _ack(stack.invoice.payment_secret, "AwsSolutions-SMG4", "provider-key-rotation")
