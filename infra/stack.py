"""One stack per environment: `Oms-<env>`, environment-agnostic (no account/region lookups).

Read top to bottom, it is the architecture: monitoring first (everything else registers its
alarms), then the table, messaging, the functions' shared environment, access, the API, each
capability, its workflows, and the outputs localcloud and the deploy docs read.
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack, Tags
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra import environments
from infra.config import SERVICE, EnvironmentConfig
from infra.constructs.access import Access
from infra.constructs.allocate import Allocate
from infra.constructs.api import Api
from infra.constructs.archive import Archive
from infra.constructs.capture import Capture
from infra.constructs.data import Data
from infra.constructs.functions import LambdaFunctions
from infra.constructs.invoice import Invoice
from infra.constructs.messaging import Messaging
from infra.constructs.monitoring import Monitoring
from infra.constructs.notify import Notify
from infra.constructs.platform import Platform
from infra.constructs.reconcile import Reconcile
from infra.constructs.returns import Returns
from infra.constructs.route import Route
from infra.constructs.workflows import Workflows, workflow_arn

ORDER_FULFILLMENT = "order_fulfillment"
SHIPMENT_INVOICING = "shipment_invoicing"
RETURN_PROCESSING = "return_processing"


class OmsStack(Stack):
    def __init__(self, scope: Construct, *, config: EnvironmentConfig) -> None:
        super().__init__(
            scope,
            config.stack_name,
            description=f"Order Management System ({config.name})",
            **environments.stack_props(config.name),
        )
        self.config = config
        self.monitoring = Monitoring(self, "Monitoring", config=config)
        self.data = Data(self, "Data", config=config)
        self.messaging = Messaging(self, "Messaging", config=config, monitoring=self.monitoring)

        order_workflow_arn = workflow_arn(config, ORDER_FULFILLMENT)
        invoice_workflow_arn = workflow_arn(config, SHIPMENT_INVOICING)
        return_workflow_arn = workflow_arn(config, RETURN_PROCESSING)
        # THE environment of every function in this stack (the local runtime shares one
        # process, so no two functions may need different values for one variable).
        self.functions = LambdaFunctions(
            self,
            "Functions",
            config=config,
            dependencies_layer=environments.uses_dependencies_layer(config.name),
            environment={
                "OMS_ENV": config.name,
                "TABLE_NAME": self.data.table.table_name,
                "EVENT_BUS_NAME": self.messaging.event_bus.event_bus_name,
                "ORDER_WORKFLOW_ARN": order_workflow_arn,
                "POWERTOOLS_SERVICE_NAME": SERVICE,
                "POWERTOOLS_METRICS_NAMESPACE": "OMS",
                "POWERTOOLS_LOG_LEVEL": "INFO",
                "NOTICE_SENDER": config.notice_sender,
                "INVOICE_WORKFLOW_ARN": invoice_workflow_arn,
                "RETURN_WORKFLOW_ARN": return_workflow_arn,
                "LEGAL_ENTITY": config.legal_entity,
                "PAYMENT_PROVIDER": config.payment_provider,
                "VAT_REGISTRY": config.vat_registry,
                # finance documents (infra/constructs/invoice.py): the queue the stream sends new
                # documents to, the bucket they are rendered into
                "DOCUMENT_QUEUE_URL": self.messaging.document_queue.queue_url,
                "DOCUMENT_BUCKET": self.data.document_bucket.bucket_name,
                "PAGING_KEY_SECRET": self.data.paging_key.secret_arn,
                # the provider's key: read at the first payment call (infra/constructs/invoice.py)
                **({"PAYMENT_SECRET_NAME": config.payment_secret_name} if config.payment_secret_name else {}),
                # reconciliation (infra/constructs/reconcile.py): the threshold, the notices' lease,
                # and the two functions it involves, by their fixed names (no Ref: no cycle)
                "RECONCILE_AFTER_SECONDS": str(int(config.reconcile_after.to_seconds())),
                "NOTICE_LEASE_SECONDS": str(int(config.notice_lease.to_seconds())),
                "NOTICE_FUNCTION_NAME": config.function_name("notify", "notice"),
                "RECONCILE_FUNCTION_NAME": config.function_name("reconcile", "run"),
            },
        )

        self.access = Access(self, "Access", functions=self.functions, data=self.data, monitoring=self.monitoring)
        self.api = Api(
            self,
            "Api",
            config=config,
            authorizer_function=self.access.authorizer_function,
            monitoring=self.monitoring,
        )

        self.platform = Platform(self, "Platform", functions=self.functions, api=self.api, monitoring=self.monitoring)
        self.capture = Capture(
            self,
            "Capture",
            functions=self.functions,
            data=self.data,
            messaging=self.messaging,
            api=self.api,
            monitoring=self.monitoring,
            order_workflow_arn=order_workflow_arn,
        )
        self.allocate = Allocate(
            self,
            "Allocate",
            functions=self.functions,
            data=self.data,
            api=self.api,
            monitoring=self.monitoring,
        )
        self.route = Route(self, "Route", functions=self.functions, data=self.data, api=self.api,
                           monitoring=self.monitoring)
        self.returns = Returns(self, "Returns", functions=self.functions, data=self.data, api=self.api,
                               monitoring=self.monitoring)
        # The API functions whose listings issue next_token (GET /orders, /shipments, /nodes, /returns)
        for paging in (self.capture.api_function, self.route.api_function, self.returns.api_function):
            self.data.grant_paging(paging)
        self.notify = Notify(self, "Notify", config=config, functions=self.functions, data=self.data,
                             messaging=self.messaging, monitoring=self.monitoring)
        self.invoice = Invoice(self, "Invoice", config=config, functions=self.functions, data=self.data,
                               messaging=self.messaging, monitoring=self.monitoring, api=self.api,
                               invoice_workflow_arn=invoice_workflow_arn, return_workflow_arn=return_workflow_arn)
        # the finance events of the bus, archived to S3 for Athena and the export
        self.archive = Archive(self, "Archive", config=config, messaging=self.messaging, monitoring=self.monitoring)
        self.reconcile = Reconcile(self, "Reconcile", config=config, functions=self.functions, data=self.data,
                                   messaging=self.messaging, monitoring=self.monitoring,
                                   order_workflow_arn=order_workflow_arn, invoice_workflow_arn=invoice_workflow_arn,
                                   notice_function=self.notify.notice_function)
        # an agent's POST /orders/{id}/resume asks the reconciler (that function only, unqualified)
        self.capture.api_function.add_to_role_policy(iam.PolicyStatement(
            actions=["lambda:InvokeFunction"], resources=[self.reconcile.function.function_arn]))
        self.workflows = Workflows(self, "Workflows", config=config, monitoring=self.monitoring)
        self.order_fulfillment = self.workflows.add_workflow(
            "OrderFulfillment",
            workflow=ORDER_FULFILLMENT,
            functions={
                "PlanFunctionArn": self.route.plan_function,
                "ReserveFunctionArn": self.allocate.reserve_function,
                "BackorderFunctionArn": self.allocate.backorder_function,
                "NotifyFunctionArn": self.notify.notice_function,
            },
        )
        self.shipment_invoicing = self.workflows.add_workflow(
            "ShipmentInvoicing",
            workflow=SHIPMENT_INVOICING,
            functions={
                "InvoiceShipmentFunctionArn": self.invoice.invoice_shipment_function,
                "FlagForFinanceFunctionArn": self.invoice.flag_function,
            },
        )

        self.return_processing = self.workflows.add_workflow(
            "ReturnProcessing",
            workflow=RETURN_PROCESSING,
            functions={
                "RefundReceiptFunctionArn": self.invoice.refund_function,
                "FlagRefundForFinanceFunctionArn": self.invoice.refund_flag_function,
                "CreateReplacementFunctionArn": self.capture.exchange_function,
            },
        )

        self._outputs(order_workflow_arn)
        Tags.of(self).add("app", SERVICE)
        Tags.of(self).add("env", config.name)

    def _outputs(self, order_workflow_arn: str) -> None:
        """The stack outputs of the contract (ARCHITECTURE.md), and only those."""
        outputs = {
            "ApiId": self.api.rest_api.rest_api_id,
            "ApiStage": self.api.stage.stage_name,
            "ApiUrl": self.api.url,
            "TableName": self.data.table.table_name,
            "EventBusName": self.messaging.event_bus.event_bus_name,
            "DocumentBucketName": self.data.document_bucket.bucket_name,
            "FinanceBucketName": self.archive.bucket.bucket_name,  # the finance archive (events/dt=…/)
            # The same Fn::Sub the functions get, so the output is what the code starts.
            "OrderWorkflowArn": order_workflow_arn,
        }
        for intake in self.messaging.intake_queues.values():
            # `webshop` -> IntakeQueueUrlWebshop, `wholesale-edi` -> IntakeQueueUrlWholesaleEdi
            suffix = "".join(part.capitalize() for part in intake.channel.split("-"))
            outputs[f"IntakeQueueUrl{suffix}"] = intake.queue.queue_url
        for role, plan in self.api.usage_plans.items():
            outputs[f"UsagePlan{role.capitalize()}"] = plan.usage_plan_id
        for name, value in outputs.items():
            CfnOutput(self, name, value=value)
