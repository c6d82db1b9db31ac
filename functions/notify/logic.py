"""Send each customer notice once per event. No AWS here.

A notice is claimed first (a conditional write of its record: ``ORDER#<id>`` /
``NOTICE#<kind>#<ref>#<channel>``), then sent, then marked SENT with a ``NoticeSent`` timeline
event. A redelivered event finds the claim and sends nothing. If the sender fails, the claim
is withdrawn and the event retried. A crash between send and mark leaves the record SENDING:
at most once, never twice; such records are visible to operators.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from functions.core.events import utc_now
from functions.core.money import fmt
from functions.core.orders import Order, Shipment, TimelineEntry
from functions.notify.templates import render


class NoticeStore(Protocol):
    def claim(self, order_id: str, notice_id: str, record: dict[str, Any]) -> bool: ...
    def withdraw(self, order_id: str, notice_id: str) -> None: ...
    def mark(self, order_id: str, notice_id: str, status: str, message_id: str | None,
             entry: TimelineEntry) -> None: ...


class Mailer(Protocol):
    def send(self, *, sender: str, to: str, subject: str, text: str, html: str, tags: dict[str, str]) -> str: ...


class Texter(Protocol):
    def send(self, *, to: str, text: str, tags: dict[str, str]) -> str: ...


class OrderReader(Protocol):
    def get(self, order_id: str) -> Order | None: ...


@dataclass
class NoticeService:
    orders: OrderReader
    store: NoticeStore
    mailer: Mailer
    texter: Texter
    sender: str
    clock: Callable[[], str] = utc_now

    def notify(self, order_id: str, kind: str, shipment_id: str | None = None) -> list[dict[str, str]]:
        """Send ``kind`` for the order (and shipment); returns what happened per channel."""
        order = self.orders.get(order_id)
        if order is None:
            return []
        shipment = next((s for s in order.shipments if s.shipment_id == shipment_id), None)
        ref = shipment_id or order_id
        context = _context(order, shipment)
        rendered = render(kind, order.customer.locale, context)
        results = [self._one(order, kind, ref, "email", order.customer.email, rendered.subject, rendered.text,
                             rendered.html)]
        if rendered.sms is not None:
            results.append(self._one(order, kind, ref, "sms", order.customer.phone, rendered.subject, rendered.sms,
                                     None))
        return results

    def _one(self, order: Order, kind: str, ref: str, channel: str, to: str | None, subject: str, text: str,
             html: str | None) -> dict[str, str]:
        notice_id = f"{kind}#{ref}#{channel}"
        record = {"kind": kind, "channel": channel, "to": to, "subject": subject, "text": text, "html": html,
                  "sender": self.sender if channel == "email" else None, "order_id": order.order_id,
                  "status": "SENDING", "at": self.clock()}
        if not self.store.claim(order.order_id, notice_id, record):
            return {"channel": channel, "result": "already"}
        detail = {"kind": kind, "channel": channel}
        if not to:  # no phone number: the customer gets no SMS, and the timeline says so
            self.store.mark(order.order_id, notice_id, "SKIPPED", None, TimelineEntry(
                at=self.clock(), event="NoticeSkipped", detail={**detail, "reason": f"no {channel} address"}))
            return {"channel": channel, "result": "skipped"}
        tags = {"order_id": order.order_id, "kind": kind}
        try:
            if channel == "email":
                message_id = self.mailer.send(sender=self.sender, to=to, subject=subject, text=text,
                                              html=html or text, tags=tags)
            else:
                message_id = self.texter.send(to=to, text=text, tags=tags)
        except Exception:
            self.store.withdraw(order.order_id, notice_id)  # let the retry send it
            raise
        self.store.mark(order.order_id, notice_id, "SENT", message_id,
                        TimelineEntry(at=self.clock(), event="NoticeSent", detail={**detail, "to": to}))
        return {"channel": channel, "result": "sent"}


def _context(order: Order, shipment: Shipment | None) -> dict[str, Any]:
    lines = shipment.lines if shipment else order.lines
    return {
        "name": order.shipping_address.name or order.customer.customer_id,
        "reference": order.channel_order_id or order.order_id,
        "total": fmt(order.totals.total, order.currency), "currency": order.currency,
        "lines": "\n".join(f"  {ln.quantity} × {ln.sku}" for ln in lines),
        "carrier": (shipment.carrier if shipment else "") or "",
        "tracking_number": (shipment.tracking_number if shipment else "") or "",
    }
