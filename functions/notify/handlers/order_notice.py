"""Step Functions task ``Notify``: tell the customer where the order workflow got to. The
reconciler invokes it too, for any notice whose claim it finds left SENDING past its lease
(with its ``ref``: the shipment, return or credit note it is about): the same claim decides
what is sent."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.core.handlers.entrypoints import task_handler
from functions.notify.wiring import notice_service


@dataclass(frozen=True)
class NoticeInput:
    order_id: str
    kind: Literal["order_confirmed", "order_backordered", "shipment_dispatched", "order_cancelled",
                  "return_authorized", "refund_issued"]
    #: the shipment, return or credit note the notice is about (``shipment_id``: the same, as
    #: earlier callers name a shipment)
    ref: str | None = None
    shipment_id: str | None = None
    #: the workflow execution asking (the same on each retry of its task); none from the reconciler
    claimant: str | None = None


@task_handler(NoticeInput)
def lambda_handler(event: NoticeInput, context: LambdaContext) -> dict[str, Any]:
    notices = notice_service().notify(event.order_id, event.kind, event.ref or event.shipment_id, event.claimant)
    return {"order_id": event.order_id, "notices": notices}
