"""Invoice: an invoice per dispatched shipment, payment capture, completion, finance events.

| function | triggered by | may |
|---|---|---|
| shipment | shipment_invoicing task `InvoiceShipment` | INVOICE_SHIPMENT_ACTIONS |
| flag | shipment_invoicing task `FlagForFinance` (the Catch) | FLAG_ACTIONS |
| stream | table stream, filtered (see below) | STREAM_ACTIONS, start shipment_invoicing, put events |

The stream filters let in three kinds of change: a shipment just dispatched (start its
shipment_invoicing run); an order header updated while COMPLETED or CANCELLED (the cancel
itself: void the authorisation / give the credit back; and the writes that append
OrderCompleted or PaymentVoided to its timeline); and any write of an invoice (InvoiceIssued,
PaymentCaptured on its timeline). The handler publishes the finance entries a write added:
a transactional outbox.

The payment provider is reached from `settle` and `stream` (void); the local provider makes
no network call. Real providers bring their secret with the finance issue.
"""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from constructs import Construct

from infra.constructs.data import Data
from infra.constructs.functions import LambdaFunctions
from infra.constructs.messaging import Messaging
from infra.constructs.monitoring import Monitoring
from infra.constructs.stream_filters import SHIPMENT_DISPATCHED

HANDLERS = "functions.invoice.handlers"
# read the order (query) and the number counter (get); one transaction to issue: counter and
# header updates, invoice put (its InvoiceIssued entry inside); after the capture one to settle:
# invoice + header updates (the completion with the last one), else the completion alone (update)
INVOICE_SHIPMENT_ACTIONS = ("dynamodb:Query", "dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:PutItem")
# the order (query) when the failed run may have issued an invoice; one transaction: flag put
# (its entry inside), header (and invoice) update
FLAG_ACTIONS = ("dynamodb:Query", "dynamodb:UpdateItem", "dynamodb:PutItem")
# a cancelled order: read it; one transaction: header (with its entry) + credit account update
STREAM_ACTIONS = ("dynamodb:Query", "dynamodb:UpdateItem")
STREAM_BATCH_SIZE = 25
#: Where the finance facts' timeline entries are written (functions/invoice/finance_events.py).
FINANCE_EVENTS_ON = {"InvoiceIssued": "INVOICE#", "PaymentCaptured": "INVOICE#",
                     "OrderCompleted": "ORDER", "PaymentVoided": "ORDER"}
#: An order header written while COMPLETED or CANCELLED: the cancel itself, and the writes that
#: append OrderCompleted / PaymentVoided to its timeline.
ORDER_CLOSED = {
    "eventName": lambda_.FilterRule.is_equal("MODIFY"),
    "dynamodb": {"NewImage": {"SK": {"S": lambda_.FilterRule.is_equal("ORDER")},
                              "status": {"S": lambda_.FilterRule.or_("COMPLETED", "CANCELLED")}}},
}
#: Any write of an invoice: issued (INSERT), settled (MODIFY).
INVOICE_WRITTEN = {"dynamodb": {"NewImage": {"SK": {"S": lambda_.FilterRule.begins_with("INVOICE#")}}}}


class Invoice(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, functions: LambdaFunctions, data: Data,
                 messaging: Messaging, monitoring: Monitoring, invoice_workflow_arn: str) -> None:
        super().__init__(scope, construct_id)
        self.invoice_shipment_function = functions.python_function(
            self, "InvoiceShipmentFunction", capability="invoice", role="shipment",
            handler=f"{HANDLERS}.invoice_shipment.lambda_handler",
            description="shipment_invoicing task: gapless invoice, payment capture, order completion",
        )
        data.grant(self.invoice_shipment_function, INVOICE_SHIPMENT_ACTIONS)
        self.flag_function = functions.python_function(
            self, "FlagFunction", capability="invoice", role="flag", handler=f"{HANDLERS}.flag.lambda_handler",
            description="shipment_invoicing Catch: put the order on finance's review list",
        )
        data.grant(self.flag_function, FLAG_ACTIONS)
        for fn in (self.invoice_shipment_function, self.flag_function):
            monitoring.watch_worker(fn)

        self.stream_function = functions.python_function(
            self, "StreamFunction", capability="invoice", role="stream", handler=f"{HANDLERS}.stream.lambda_handler",
            description="Starts invoicing per dispatched shipment, voids cancelled payments, publishes finance events",
        )
        data.grant(self.stream_function, STREAM_ACTIONS)
        messaging.event_bus.grant_put_events_to(self.stream_function)
        self.stream_function.add_to_role_policy(
            iam.PolicyStatement(actions=["states:StartExecution"], resources=[invoice_workflow_arn]))
        self.stream_dead_letter_queue = messaging.dead_letter_queue("InvoiceStreamDlq",
                                                                    purpose="invoice-stream-dlq")
        self.stream_function.add_event_source(event_sources.DynamoEventSource(
            data.table, starting_position=lambda_.StartingPosition.TRIM_HORIZON, batch_size=STREAM_BATCH_SIZE,
            bisect_batch_on_error=True, retry_attempts=5, report_batch_item_failures=True,
            on_failure=event_sources.SqsDlq(self.stream_dead_letter_queue),
            filters=[lambda_.FilterCriteria.filter(SHIPMENT_DISPATCHED),
                     lambda_.FilterCriteria.filter(ORDER_CLOSED),
                     lambda_.FilterCriteria.filter(INVOICE_WRITTEN)],
        ))
        monitoring.watch_stream_consumer("InvoiceStream", self.stream_function)
