"""The single DynamoDB table (ARCHITECTURE.md, "Single table") and its access grants.

Grants name the table (and its three indexes only where a function queries them) explicitly
(no `index/*`), with exactly the item-level actions that function's code uses — no Scan, no
table administration. TransactWriteItems is authorised through its per-item actions.
"""

from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.config import EnvironmentConfig

GSI_NAMES: tuple[str, ...] = ("GSI1", "GSI2", "GSI3")
GSI_PROJECTED_ATTRIBUTES = ["summary"]  # an index write stays small whatever the item's size
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

    def grant_read_items_with_key_prefix(self, grantee: iam.IGrantable, key_prefix: str) -> None:
        """GetItem only, and only on items whose partition key starts with `key_prefix`."""
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["dynamodb:GetItem"],
                resources=self._resources(with_indexes=False),
                conditions={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{key_prefix}*"]}},
            )
        )
