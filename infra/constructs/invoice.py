"""Invoice: an invoice per dispatched shipment, payment capture, completion, finance events.

| function | triggered by | may |
|---|---|---|
| shipment | shipment_invoicing task `InvoiceShipment` | INVOICE_SHIPMENT_GRANTS |
| flag | shipment_invoicing task `FlagForFinance` (the Catch) | FLAG_ACTIONS |
| refund | return_processing task `RefundReceipt` | REFUND_GRANTS |
| refund_flag | return_processing task `FlagRefundForFinance` (the Catch) | FLAG_ACTIONS |
| stream | table stream, filtered (see below) | STREAM_ACTIONS, start both workflows, put events, queue docs |
| render | the document queue (one message per new invoice or credit note) | RENDER_ACTIONS, put objects |
| api | API: `/invoices…` (+ payments), `/customers/…`, `/finance/review` | API_GRANTS (GSI1, GSI2), get objects |

The stream filters let in four kinds of change: a shipment just dispatched (start its
shipment_invoicing run); an order header updated while COMPLETED or CANCELLED (the cancel
itself: void the authorisation / give the credit back; and the writes that append
OrderCompleted or PaymentVoided to its timeline); any write of an invoice or a credit note
(InvoiceIssued, PaymentCaptured, PaymentReceived, CreditNoteIssued, PaymentRefunded on its timeline); and a
return written while (partially) received (start a return_processing run per receipt it
added). The handler publishes the finance entries a write added: a transactional outbox.

The payment provider (`config.payment_provider`) is reached from `shipment` (capture),
`refund` (refunds) and `stream` (void); the local provider makes no network call and is refused here for any
environment but local. A real provider's API key lives in a Secrets Manager secret this
construct creates, named `config.payment_secret_name` (the shared environment carries the name
as PAYMENT_SECRET_NAME): a generated placeholder, never a value from the repo, until the
operator puts the real key in (README, "Deploy an environment"). Only the three functions that
call the provider may read it.
"""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra import environments
from infra.config import LOCAL_PAYMENT_PROVIDER, PAYMENT_PROVIDERS, EnvironmentConfig
from infra.constructs.api import Api
from infra.constructs.data import Data
from infra.constructs.functions import LambdaFunctions
from infra.constructs.messaging import Messaging
from infra.constructs.monitoring import Monitoring
from infra.constructs.stream_filters import SHIPMENT_DISPATCHED

HANDLERS = "functions.invoice.handlers"
# read the order (query) and the number counter (get); one transaction to issue: counter and
# header updates, invoice put (its InvoiceIssued entry inside); after the capture one to settle:
# invoice + header updates (the completion with the last one), else the completion alone (update).
# On account only: the account's payment terms (get) and the open item booked with the settle
# (update). Each (actions, partitions) is its own grant: an action only where the code uses it.
Grants = tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]
INVOICE_SHIPMENT_GRANTS: Grants = (
    # the order (query), its header and invoice (the invoice put, the updates)
    (("dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem"), ("order",)),
    # the legal entity's gapless number counter; the on-account customer's terms and open item
    (("dynamodb:GetItem", "dynamodb:UpdateItem"), ("invoice_counter", "credit")),
)
# the order (query) when the failed run may have issued an invoice; one transaction: flag put
# (its entry inside), header (and invoice) update
FLAG_ACTIONS = ("dynamodb:Query", "dynamodb:UpdateItem", "dynamodb:PutItem")
# read the order (query) and the credit note counter (get); one transaction to issue a receipt's
# notes (counter, header, note puts with their entries); per note one to claim its refund (note,
# header) and one to record it (note, and on account the customer's credit and open item, and the
# invoice's open amount); the return's move
REFUND_GRANTS: Grants = (
    (("dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem"), ("order",)),
    (("dynamodb:GetItem", "dynamodb:UpdateItem"), ("credit_note_counter",)),
    (("dynamodb:UpdateItem",), ("credit",)),
)
FLAG_PARTITIONS = ("order",)
# a cancelled order: read it; one transaction: header (with its entry) + credit account update
STREAM_ACTIONS = ("dynamodb:Query", "dynamodb:UpdateItem")
STREAM_PARTITIONS = ("order", "credit")
STREAM_BATCH_SIZE = 25
# render: read the order (query), whether it is rendered (get), the mark that it is (put)
RENDER_ACTIONS = ("dynamodb:Query", "dynamodb:GetItem", "dynamodb:PutItem")
RENDER_PARTITIONS = ("order",)
#: Documents one render invocation takes (each ~0.1–0.3 s of CPU: well inside the timeout).
RENDER_BATCH_SIZE = 5
# the API: a month's documents and finance's review list (GSI1), a number's order (GSI2), the order
# (query), its mark (get); a customer's account and open items (query), a payment (get); a credit
# account written (update); a payment: one transaction of payment put, invoice, open item and
# account updates — the only put, and it is in the customer's partition
API_GRANTS: Grants = (
    (("dynamodb:Query", "dynamodb:GetItem", "dynamodb:UpdateItem"), ("order", "credit")),
    (("dynamodb:PutItem",), ("credit",)),
    (("dynamodb:Query",), ("invoices_of_month", "finance_review", "document_by_number")),
)
#: Where the finance facts' timeline entries are written (functions/invoice/finance_events.py).
FINANCE_EVENTS_ON = {"InvoiceIssued": "INVOICE#", "PaymentCaptured": "INVOICE#", "PaymentReceived": "INVOICE#",
                     "OrderCompleted": "ORDER", "PaymentVoided": "ORDER",
                     "CreditNoteIssued": "CREDITNOTE#", "PaymentRefunded": "CREDITNOTE#"}
#: An order header written while COMPLETED or CANCELLED: the cancel itself, and the writes that
#: append OrderCompleted / PaymentVoided to its timeline.
ORDER_CLOSED = {
    "eventName": lambda_.FilterRule.is_equal("MODIFY"),
    "dynamodb": {"NewImage": {"SK": {"S": lambda_.FilterRule.is_equal("ORDER")},
                              "status": {"S": lambda_.FilterRule.or_("COMPLETED", "CANCELLED")}}},
}
#: Any write of an invoice or a credit note: issued (INSERT), settled or refunded (MODIFY).
INVOICE_WRITTEN = {"dynamodb": {"NewImage": {"SK": {"S": [*lambda_.FilterRule.begins_with("INVOICE#"),
                                                          *lambda_.FilterRule.begins_with("CREDITNOTE#")]}}}}
#: A return written while (partially) received or closed: a receipt, its settling, a close (the
#: handler starts a run only for the receipts a write added, or those of an exchange closed with
#: part of it in, which are refunded instead).
RETURN_RECEIVED = {
    "eventName": lambda_.FilterRule.is_equal("MODIFY"),
    "dynamodb": {"NewImage": {"SK": {"S": lambda_.FilterRule.begins_with("RETURN#")},
                              "status": {"S": lambda_.FilterRule.or_("PARTIALLY_RECEIVED", "RECEIVED",
                                                                     "CLOSED")}}},
}


class Invoice(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, functions: LambdaFunctions,
                 data: Data, messaging: Messaging, monitoring: Monitoring, api: Api, invoice_workflow_arn: str,
                 return_workflow_arn: str) -> None:
        super().__init__(scope, construct_id)
        check_payment_provider(config)
        self.invoice_shipment_function = functions.python_function(
            self, "InvoiceShipmentFunction", capability="invoice", role="shipment",
            handler=f"{HANDLERS}.invoice_shipment.lambda_handler",
            description="shipment_invoicing task: gapless invoice, payment capture, order completion",
        )
        for actions, partitions in INVOICE_SHIPMENT_GRANTS:
            data.grant(self.invoice_shipment_function, actions, partitions=partitions)
        self.flag_function = functions.python_function(
            self, "FlagFunction", capability="invoice", role="flag", handler=f"{HANDLERS}.flag.lambda_handler",
            description="shipment_invoicing Catch: put the order on finance's review list",
        )
        data.grant(self.flag_function, FLAG_ACTIONS, partitions=FLAG_PARTITIONS)
        self.refund_function = functions.python_function(
            self, "RefundFunction", capability="invoice", role="refund",
            handler=f"{HANDLERS}.refund_receipt.lambda_handler",
            description="return_processing task: gapless credit notes, refunds, the return REFUNDED",
        )
        for actions, partitions in REFUND_GRANTS:
            data.grant(self.refund_function, actions, partitions=partitions)
        self.refund_flag_function = functions.python_function(
            self, "RefundFlagFunction", capability="invoice", role="refund-flag",
            handler=f"{HANDLERS}.refund_flag.lambda_handler",
            description="return_processing Catch: put the order on finance's review list",
        )
        data.grant(self.refund_flag_function, FLAG_ACTIONS, partitions=FLAG_PARTITIONS)
        for fn in (self.invoice_shipment_function, self.flag_function, self.refund_function,
                   self.refund_flag_function):
            monitoring.watch_worker(fn)

        self.stream_function = functions.python_function(
            self, "StreamFunction", capability="invoice", role="stream", handler=f"{HANDLERS}.stream.lambda_handler",
            description="Starts invoicing per dispatched shipment, voids cancelled payments, publishes finance events",
        )
        data.grant(self.stream_function, STREAM_ACTIONS, partitions=STREAM_PARTITIONS)
        messaging.event_bus.grant_put_events_to(self.stream_function)
        self.stream_function.add_to_role_policy(
            iam.PolicyStatement(actions=["states:StartExecution"], resources=[invoice_workflow_arn,
                                                                             return_workflow_arn]))
        self.stream_dead_letter_queue = messaging.dead_letter_queue("InvoiceStreamDlq",
                                                                    purpose="invoice-stream-dlq")
        self.stream_function.add_event_source(event_sources.DynamoEventSource(
            data.table, starting_position=lambda_.StartingPosition.TRIM_HORIZON, batch_size=STREAM_BATCH_SIZE,
            bisect_batch_on_error=True, retry_attempts=5, report_batch_item_failures=True,
            on_failure=event_sources.SqsDlq(self.stream_dead_letter_queue),
            filters=[lambda_.FilterCriteria.filter(SHIPMENT_DISPATCHED),
                     lambda_.FilterCriteria.filter(ORDER_CLOSED),
                     lambda_.FilterCriteria.filter(INVOICE_WRITTEN),
                     lambda_.FilterCriteria.filter(RETURN_RECEIVED)],
        ))
        monitoring.watch_stream_consumer("InvoiceStream", self.stream_function)
        messaging.document_queue.grant_send_messages(self.stream_function)

        self.render_function = functions.python_function(
            self, "RenderFunction", capability="invoice", role="render",
            handler=f"{HANDLERS}.render_document.lambda_handler",
            description="Renders each invoice and credit note once: PDF/A-3 (Factur-X) and EN 16931 XML",
            # its PDF and XML libraries take ~0.3 s of CPU to import (about three times a boto3
            # cold start): they are imported at init, which SnapStart runs once per published
            # version, so a cold start restores them instead (the queue triggers the version)
            snap_start=True,
        )
        data.grant(self.render_function, RENDER_ACTIONS, partitions=RENDER_PARTITIONS)
        # the two files of each document (no read, no delete: a document never changes once issued)
        self.render_function.add_to_role_policy(iam.PolicyStatement(
            actions=["s3:PutObject"], resources=[data.document_bucket.arn_for_objects("*")]))
        self.render_function.current_version.add_event_source(event_sources.SqsEventSource(
            messaging.document_queue, batch_size=RENDER_BATCH_SIZE, report_batch_item_failures=True))
        monitoring.watch_worker(self.render_function)

        self.api_function = functions.python_function(
            self, "ApiFunction", capability="invoice", role="api", handler=f"{HANDLERS}.api.lambda_handler",
            description="Invoice API: finance's documents by issue date, one document with its links",
        )
        for actions, partitions in API_GRANTS:
            data.grant(self.api_function, actions, partitions=partitions)
        data.grant_paging(self.api_function)
        # the links are presigned with this function's role: it must be able to read the objects
        self.api_function.add_to_role_policy(iam.PolicyStatement(
            actions=["s3:GetObject"], resources=[data.document_bucket.arn_for_objects("*")]))
        api.add_prefix("invoices", self.api_function, methods=("GET",))
        api.add_prefix("customers", self.api_function, methods=())  # only /customers/{ch}/{id}/…
        api.add_prefix("finance", self.api_function, methods=())  # /finance/review
        monitoring.watch_api_function("InvoiceApi", self.api_function)

        #: The provider's API key (None for the local provider, which needs none).
        self.payment_secret: secretsmanager.Secret | None = None
        if config.payment_secret_name is not None:
            self.payment_secret = secretsmanager.Secret(
                self, "PaymentProviderKey", secret_name=config.payment_secret_name,
                description=f"{config.payment_provider} API key of {config.prefix} (secret or restricted key: "
                            "PaymentIntents and Refunds write). Created with a placeholder; put the real key in.",
                # a random placeholder: no key value in the repo or the template
                generate_secret_string=secretsmanager.SecretStringGenerator(exclude_punctuation=True,
                                                                            password_length=32),
                removal_policy=config.removal_policy,
            )
            for fn in (self.invoice_shipment_function, self.refund_function, self.stream_function):
                self.payment_secret.grant_read(fn)


def check_payment_provider(config: EnvironmentConfig) -> None:
    """Synth refuses an unknown provider, and the local one outside the local environment (it
    captures nothing: orders would complete and the authorisations expire)."""
    if config.payment_provider not in PAYMENT_PROVIDERS:
        raise ValueError(f"{config.name}: payment_provider {config.payment_provider!r} is not one of "
                         f"{PAYMENT_PROVIDERS} (infra/config.py)")
    if config.payment_provider == LOCAL_PAYMENT_PROVIDER and not environments.is_local(config.name):
        raise ValueError(f"{config.name}: the local payment provider takes no money and is for the local "
                         f"environment only; set payment_provider='stripe' for {config.name} in infra/config.py")
