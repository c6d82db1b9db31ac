"""Reconcile: the scheduled reconciler that resumes what fell between the cracks (an order left
in a non-final status, a dispatched shipment never invoiced, a payment never captured, a
completion never written, a notice claimed and never sent) through the same idempotent steps
the workflows use. Its own capability (functions/reconcile): it orchestrates across capture,
allocate, invoice and notify without owning any of their writes.

| function | triggered by | may |
|---|---|---|
| run | Scheduler `oms-<env>-reconcile` (`config.reconcile_rate`); the orders API's resume (sync invoke) | see below |

`run` may: RECONCILE_ACTIONS on the table, Query on GSI4 only, start both workflows, invoke
notify's task function.

The schedule's role may invoke that one function and send to the schedule's DLQ, nothing else.
"""

from __future__ import annotations

import json

from aws_cdk import Aws
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_scheduler as scheduler
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.constructs.data import Data
from infra.constructs.functions import LambdaFunctions
from infra.constructs.messaging import Messaging
from infra.constructs.monitoring import Monitoring

HANDLERS = "functions.reconcile.handlers"
# read an order (Query of its partition); postpone its next check / take a final order off the
# open orders' index (a conditional UpdateItem of its header)
RECONCILE_ACTIONS = ("dynamodb:Query", "dynamodb:UpdateItem")
#: A missed run is made good by the next one: retry briefly, never past the next run.
SCHEDULE_RETRIES = 2


class Reconcile(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, functions: LambdaFunctions,
                 data: Data, messaging: Messaging, monitoring: Monitoring, order_workflow_arn: str,
                 invoice_workflow_arn: str, notice_function: lambda_.IFunction) -> None:
        super().__init__(scope, construct_id)
        self.function = functions.python_function(
            self, "RunFunction", capability="reconcile", role="run", handler=f"{HANDLERS}.run.lambda_handler",
            description="Reconciler: resumes open orders due for a check (GSI4), or one order on an agent's resume",
        )
        # its orders' items, and the open orders' index (GSI4) — no other index
        data.grant(self.function, RECONCILE_ACTIONS, partitions=("order", "open_orders"))
        self.function.add_to_role_policy(iam.PolicyStatement(
            actions=["states:StartExecution"], resources=[order_workflow_arn, invoice_workflow_arn]))
        self.function.add_to_role_policy(iam.PolicyStatement(
            actions=["lambda:InvokeFunction"], resources=[notice_function.function_arn]))
        monitoring.watch_worker(self.function)

        self.dead_letter_queue = messaging.dead_letter_queue("ReconcileScheduleDlq", purpose="reconcile-schedule-dlq")
        self.schedule_role = iam.Role(
            self, "ScheduleRole", assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}}),
            description=f"{config.reconcile_schedule_name}: invokes the reconciler, nothing else")
        self.schedule_role.add_to_policy(iam.PolicyStatement(
            actions=["lambda:InvokeFunction"], resources=[self.function.function_arn]))
        self.schedule_role.add_to_policy(iam.PolicyStatement(
            actions=["sqs:SendMessage"], resources=[self.dead_letter_queue.queue_arn]))
        minutes = int(config.reconcile_rate.to_minutes())
        self.schedule = scheduler.CfnSchedule(
            self, "Schedule",
            name=config.reconcile_schedule_name,
            description="Runs the reconciler over the open orders due for a check",
            schedule_expression=f"rate({minutes} minute{'s' if minutes != 1 else ''})",
            flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
            state="ENABLED",
            target=scheduler.CfnSchedule.TargetProperty(
                arn=self.function.function_arn,
                role_arn=self.schedule_role.role_arn,
                input=json.dumps({}),
                retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                    maximum_retry_attempts=SCHEDULE_RETRIES,
                    # Scheduler allows 60 s to a day; never past the next run
                    maximum_event_age_in_seconds=int(min(config.reconcile_rate.to_seconds(), 3600))),
                dead_letter_config=scheduler.CfnSchedule.DeadLetterConfigProperty(
                    arn=self.dead_letter_queue.queue_arn),
            ),
        )
