"""The single DynamoDB table (ARCHITECTURE.md, "Single table"), its access grants, and the key
that signs the listings' paging tokens.

Grants name the table (and its three indexes only where a function queries them) explicitly
(no `index/*`), with exactly the item-level actions that function's code uses — no Scan, no
table administration. TransactWriteItems is authorised through its per-item actions.

A paging token carries a listing's ``LastEvaluatedKey``; it is signed (HMAC-SHA256) with a key
kept in Secrets Manager, so a forged or edited token is a 400, never an arbitrary start key
sent to DynamoDB. Only the functions whose listings page may read that key (``grant_paging``).
"""

from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra import environments
from infra.config import EnvironmentConfig

GSI_NAMES: tuple[str, ...] = ("GSI1", "GSI2", "GSI3")
GSI_PROJECTED_ATTRIBUTES = ["summary"]  # an index write stays small whatever the item's size
#: The open orders (sparse, KEYS_ONLY: 1 WRU when an order is captured, 1 when it is final;
#: a status change in between writes nothing to it). Only the reconciler queries it.
OPEN_ORDERS_INDEX = "GSI4"
TTL_ATTRIBUTE = "expires_at"



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

    def _resources(self, *, with_indexes: bool) -> list[str]:
        arns = [self.table.table_arn]
        if with_indexes:
            arns += [f"{self.table.table_arn}/index/{name}" for name in GSI_NAMES]
        return arns

    def grant(self, grantee: iam.IGrantable, actions: tuple[str, ...], *, indexes: bool = False) -> None:
        """Exactly ``actions`` on the table, and on its indexes when the function queries them."""
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(actions=list(actions), resources=self._resources(with_indexes=indexes))
        )

    def grant_open_orders(self, grantee: iam.IGrantable) -> None:
        """Query the open orders' index (GSI4), and nothing else of it."""
        grantee.grant_principal.add_to_principal_policy(iam.PolicyStatement(
            actions=["dynamodb:Query"], resources=[f"{self.table.table_arn}/index/{OPEN_ORDERS_INDEX}"]))

    def grant_paging(self, grantee: iam.IGrantable) -> None:
        """A function whose listings issue and accept ``next_token``: it reads the paging key."""
        self.paging_key.grant_read(grantee)

    def grant_with_key_prefix(self, grantee: iam.IGrantable, actions: tuple[str, ...], key_prefix: str) -> None:
        """Exactly ``actions`` on the table, only on items whose partition key starts with
        ``key_prefix`` (no index)."""
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=list(actions),
                resources=self._resources(with_indexes=False),
                conditions={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{key_prefix}*"]}},
            )
        )

    def grant_read_items_with_key_prefix(self, grantee: iam.IGrantable, key_prefix: str) -> None:
        """GetItem only, and only on items whose partition key starts with `key_prefix`."""
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["dynamodb:GetItem"],
                resources=self._resources(with_indexes=False),
                conditions={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{key_prefix}*"]}},
            )
        )
