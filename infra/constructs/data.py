"""The single DynamoDB table (ARCHITECTURE.md, "Single table"), its access grants, and the key
that signs the listings' paging tokens.

Grants name the table (and an index only where a function queries one of its partitions)
explicitly (no `index/*`), with exactly the item-level actions that function's code uses — no
Scan, no table administration. TransactWriteItems is authorised through its per-item actions.
Each grant is limited to the partitions the function uses (``dynamodb:LeadingKeys``, patterns
from functions/core/adapters/keys.py ``PARTITIONS``; docs/ARCHITECTURE.md, "Least privilege"):
a function that reads stock cannot touch an API key.

A paging token carries a listing's ``LastEvaluatedKey``; it is signed (HMAC-SHA256) with a key
kept in Secrets Manager, so a forged or edited token is a 400, never an arbitrary start key
sent to DynamoDB. Only the functions whose listings page may read that key (``grant_paging``).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from functions.core.adapters.keys import PARTITIONS
from infra import environments
from infra.config import EnvironmentConfig

GSI_NAMES: tuple[str, ...] = ("GSI1", "GSI2", "GSI3")
GSI_PROJECTED_ATTRIBUTES = ["summary"]  # an index write stays small whatever the item's size
#: The open orders (sparse, KEYS_ONLY: 1 WRU when an order is captured, 1 when it is final;
#: a status change in between writes nothing to it). Only the reconciler queries it.
OPEN_ORDERS_INDEX = "GSI4"
TTL_ATTRIBUTE = "expires_at"




def records_bucket(scope: Construct, construct_id: str, config: EnvironmentConfig,
                   *more_rules: s3.LifecycleRule, **options: Any) -> s3.Bucket:
    """A bucket of finance's records (rendered documents, the archive of finance events):
    SSE-S3, versioned (nothing lost to an overwrite), SSL only, private, owner-enforced,
    retained with the stack in prod; unfinished uploads cleared after a day, plus
    ``more_rules``."""
    return s3.Bucket(
        scope,
        construct_id,
        encryption=s3.BucketEncryption.S3_MANAGED,
        versioned=True,
        enforce_ssl=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        removal_policy=config.removal_policy,
        lifecycle_rules=[s3.LifecycleRule(id="AbortIncompleteUploads",
                                          abort_incomplete_multipart_upload_after=Duration.days(1)), *more_rules],
        **options,
    )

class Data(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig) -> None:
        super().__init__(scope, construct_id)
        string = dynamodb.AttributeType.STRING
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name="PK", type=string),
            sort_key=dynamodb.Attribute(name="SK", type=string),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
            time_to_live_attribute=TTL_ATTRIBUTE,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=config.point_in_time_recovery
            ),
            # KMS with the AWS-managed key (aws/dynamodb): encrypted at rest and auditable in
            # CloudTrail, without a per-environment customer key to administer.
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            deletion_protection=config.deletion_protection,
            removal_policy=config.removal_policy,
        )
        for index_name in GSI_NAMES:
            self.table.add_global_secondary_index(
                index_name=index_name,
                partition_key=dynamodb.Attribute(name=f"{index_name}PK", type=string),
                sort_key=dynamodb.Attribute(name=f"{index_name}SK", type=string),
                projection_type=dynamodb.ProjectionType.INCLUDE,
                non_key_attributes=GSI_PROJECTED_ATTRIBUTES,
            )
        self.table.add_global_secondary_index(
            index_name=OPEN_ORDERS_INDEX,
            partition_key=dynamodb.Attribute(name=f"{OPEN_ORDERS_INDEX}PK", type=string),
            sort_key=dynamodb.Attribute(name=f"{OPEN_ORDERS_INDEX}SK", type=string),
            projection_type=dynamodb.ProjectionType.KEYS_ONLY,
        )
        # The rendered invoices and credit notes (PDF/A-3 with the EN 16931 XML, and the XML):
        # documents that never change once issued, kept as long as finance must (versioned:
        # nothing is ever lost to an overwrite; retained with the stack in prod). SSE-S3: a
        # customer key would bill a KMS request per document and per link. Named by CloudFormation
        # (bucket names are global).
        self.document_bucket = records_bucket(self, "DocumentBucket", config)
        # Generated at deploy time and never in the repo (locally a fixed value, so tokens from
        # one `make up` still verify after a restart: environments.py). Rotating it only makes
        # open cursors start over (a 400 for a token signed with the old value).
        self.paging_key = secretsmanager.Secret(
            self,
            "PagingKey",
            secret_name=config.secret_name("paging-key"),
            description="Signs the API's paging tokens (next_token): HMAC-SHA256 key",
            removal_policy=config.removal_policy,
            **environments.paging_key_props(config.name),
        )

    def grant(self, grantee: iam.IGrantable, actions: tuple[str, ...], *, partitions: tuple[str, ...]) -> None:
        """Exactly ``actions`` on the items of ``partitions`` (names in keys.PARTITIONS); an index
        partition gets ``dynamodb:Query`` on its index alone (a Query there names the index's
        partition key), so a function queries no index it was not given a partition of."""
        unknown = sorted(set(partitions) - set(PARTITIONS))
        if unknown:
            raise ValueError(f"unknown partitions {unknown}: name them in functions/core/adapters/keys.py PARTITIONS")
        on_table = sorted({PARTITIONS[p][0] for p in partitions if PARTITIONS[p][1] is None})
        if on_table:
            self._allow(grantee, list(actions), [self.table.table_arn], on_table)
        by_index: dict[str, set[str]] = {}
        for name in partitions:
            pattern, index = PARTITIONS[name]
            if index is not None:
                by_index.setdefault(index, set()).add(pattern)
        if by_index and "dynamodb:Query" not in actions:
            raise ValueError(f"index partitions {sorted(by_index)} are only ever queried: grant dynamodb:Query")
        for index, patterns in sorted(by_index.items()):
            if index not in (*GSI_NAMES, OPEN_ORDERS_INDEX):
                raise ValueError(f"{index} is not an index of the table ({', '.join(GSI_NAMES)}, {OPEN_ORDERS_INDEX})")
            self._allow(grantee, ["dynamodb:Query"], [f"{self.table.table_arn}/index/{index}"], sorted(patterns))

    @staticmethod
    def _allow(grantee: iam.IGrantable, actions: list[str], resources: list[str], patterns: list[str]) -> None:
        # ForAllValues: every partition key the request names must match (a BatchGetItem's
        # keys, each item of a transaction) — and a request naming none passes, so no grant
        # may include Scan.
        if "dynamodb:Scan" in actions:
            raise ValueError("a Scan names no partition key: dynamodb:LeadingKeys cannot limit it")
        grantee.grant_principal.add_to_principal_policy(iam.PolicyStatement(
            actions=actions, resources=resources,
            conditions={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": patterns}}))

    def grant_paging(self, grantee: iam.IGrantable) -> None:
        """A function whose listings issue and accept ``next_token``: it reads the paging key."""
        self.paging_key.grant_read(grantee)
