"""An exchange's replacement order (API.md "Returns", outcome ``EXCHANGE``). No AWS here.

When every unit of an exchange has arrived (the return ``RECEIVED``), the return_processing
workflow asks capture for the replacement: an order for the same channel and customer, to the
same address, of the return's ``exchange_lines`` with lines and shipping at 0.00 and nothing to
pay (payment method ``none``), its ``exchange_for`` naming the return. It is captured like any
order (its header starts order_fulfillment: allocated and routed like any other), then the
return moves on to ``EXCHANGED`` with ``exchange_order_id`` naming it and ``ReturnExchanged``
on the timeline, in one write conditional on the return's version.

Once, however often it runs: the replacement's channel order id is ``EXCHANGE-<RMA number>``,
which the channel reference makes unique, so a second capture answers the first order's id.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from functions.capture.capturing import CaptureService, DuplicateOrder, NewLine, NewOrder, NewPayment
from functions.capture.ports import CaptureInProgress
from functions.core.errors import NotFound, TransientError
from functions.core.events import utc_now
from functions.core.orders import Order, TimelineEntry
from functions.core.ports import OrderReader
from functions.core.principal import Principal
from functions.core.returns import Return, ReturnOutcome, ReturnStatus

#: Tries of the return's move when a receipt or an agent moves it meanwhile.
ATTEMPTS = 6


class ReturnMoved(Exception):
    """The return is not at the version read; nothing was written."""


class ExchangeLinks(Protocol):
    def link(self, before: Return, after: Return, entry: TimelineEntry) -> None:
        """The return as ``after`` (EXCHANGED, naming its replacement) if still at ``before``'s
        version, else ``ReturnMoved``."""
        ...


def exchange_reference(ret: Return) -> str:
    return f"EXCHANGE-{ret.rma_number}"


def replacement_of(order: Order, ret: Return) -> NewOrder:
    tax_classes = {ln.sku: ln.tax_class for ln in order.lines}
    return NewOrder(
        customer=order.customer, currency=order.currency,
        lines=tuple(NewLine(sku=e.sku, quantity=e.quantity, unit_price="0.00",
                            tax_class=tax_classes.get(e.sku, "standard")) for e in ret.exchange_lines),
        shipping_address=order.shipping_address, payment=NewPayment(method="none"),
        shipping_method=order.shipping_method, shipping_price="0.00", channel_order_id=exchange_reference(ret),
        purchase_order_number=order.purchase_order_number, tax=order.tax)


@dataclass
class ExchangeService:
    orders: OrderReader
    capture: CaptureService
    links: ExchangeLinks
    clock: Callable[[], str] = utc_now

    def replace(self, order_id: str, return_id: str) -> dict[str, Any]:
        for _ in range(ATTEMPTS):
            order, ret = self._read(order_id, return_id)
            if ret.exchange_order_id or ret.status != ReturnStatus.RECEIVED:
                # made before, or not (or no longer) waiting for it (closed with goods missing)
                return {"order_id": order_id, "return_id": return_id, "exchange_order_id": ret.exchange_order_id,
                        "status": ret.status.value}
            try:
                made = self.capture.capture(replacement_of(order, ret), Principal("channel", order.channel),
                                            exchange_for=return_id).order_id
            except DuplicateOrder as exc:  # captured by an earlier run, which stopped before the link
                made = exc.existing_order_id or ""
            except CaptureInProgress as exc:  # another run is writing it this moment: the workflow retries
                raise TransientError(f"the replacement of {return_id} is being captured by another run") from exc
            now = self.clock()
            after = replace(ret, status=ReturnStatus.EXCHANGED, exchange_order_id=made, version=ret.version + 1,
                            updated_at=now)
            entry = TimelineEntry(at=now, event="ReturnExchanged", detail={
                "return_id": return_id, "rma_number": ret.rma_number, "exchange_order_id": made})
            try:
                self.links.link(ret, after, entry)
            except ReturnMoved:
                continue
            return {"order_id": order_id, "return_id": return_id, "exchange_order_id": made,
                    "status": after.status.value}
        raise ReturnMoved(return_id)

    def _read(self, order_id: str, return_id: str) -> tuple[Order, Return]:
        order = self.orders.get(order_id)
        ret = next((r for r in order.returns if r.return_id == return_id), None) if order else None
        if order is None or ret is None or ret.outcome != ReturnOutcome.EXCHANGE:
            raise NotFound(f"no exchange {return_id} of order {order_id}")
        return order, ret
