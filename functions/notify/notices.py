"""Send each customer notice once per event. No AWS here.

A notice (``ORDER#<id>`` / ``NOTICE#<kind>#<ref>``) is claimed first — one conditional write
for all its channels (email, SMS) — then each channel is sent, then the outcomes and the
``NoticeSent`` / ``NoticeSkipped`` timeline entries are recorded in one write. A redelivered
event finds the claim and sends nothing. A channel whose send failed is withdrawn and the
event retried: the retry claims and sends only that channel. A send whose answer was lost
may have gone out: withdrawn and retried, its retry's send is the last (at most twice). A
claim whose own answer was lost is known by its token on the client's retry and sent. A crash
between send and record leaves the channel SENDING until its lease runs out; then the
reconciler has it sent again (at most twice: docs/ARCHITECTURE.md, "Notices").

A notice is sent only while its order is in a state it applies to (``core/notices.py``, the
one table every side reads). The order notify reads anyway may already be past it; a
transition after that read is caught by the claim's own condition, since the transitions that
make a notice inapplicable — the cancel, the allocation of a backordered order — mark its
claim (keyed with the same ``notice_id``) in their own transaction. Either way the notice is
claimed as skipped and the timeline gets
``NoticeSkipped`` with the reason. A claim before the cancel sent what was true at the time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from functions.core.errors import TransientError
from functions.core.events import utc_now
from functions.core.money import fmt
from functions.core.notices import inapplicable, notice_id
from functions.core.orders import Order, TimelineEntry
from functions.notify.ports import Mailer, NoticeStore, OrderReader, SendUnconfirmed, Texter
from functions.notify.templates import render

#: Tries of a notice's record after its send (``NoticeService._record``).
RECORD_TRIES = 3


@dataclass
class NoticeService:
    orders: OrderReader
    store: NoticeStore
    mailer: Mailer
    texter: Texter
    sender: str
    clock: Callable[[], str] = utc_now
    pause: Callable[[float], None] = time.sleep

    def notify(self, order_id: str, kind: str, ref: str | None = None,
               claimant: str | None = None) -> list[dict[str, str]]:
        """Send ``kind`` for the order (and ``ref``: the shipment, return or credit note it is
        about); returns what happened per channel.
        ``claimant``: who asks, the same on every retry of one delivery (the workflow
        execution, the stream record): a retry whose claim was written but never used (its
        answer lost, or the call failed before the send) takes it again, once."""
        order = self.orders.get(order_id)
        if order is None:
            return []
        rendered = render(kind, order.customer.locale, _context(order, ref))
        channels: dict[str, dict[str, Any]] = {"email": {
            "to": order.customer.email, "subject": rendered.subject, "text": rendered.text, "html": rendered.html,
            "sender": self.sender}}
        if rendered.sms is not None:
            channels["sms"] = {"to": order.customer.phone, "text": rendered.sms}
        claimed = notice_id(kind, order_id, ref)
        at = self.clock()
        for record in channels.values():
            record["at"] = at
        claim = self.store.claim(order_id, claimed, kind, channels, inapplicable(kind, order.status), claimant)
        results: dict[str, tuple[str, str | None]] = {}
        entries: list[TimelineEntry] = []
        failure: Exception | None = None
        for channel in sorted(claim.skip):  # the order left the states the notice applies to
            results[channel] = ("SKIPPED", None)
            entries.append(TimelineEntry(at=at, event="NoticeSkipped",
                                         detail={"kind": kind, "channel": channel, "reason": claim.reason or ""}))
        for channel in sorted(claim.send):
            to = channels[channel]["to"]
            detail = {"kind": kind, "channel": channel}
            if not to:  # no phone number: the customer gets no SMS, and the timeline says so
                results[channel] = ("SKIPPED", None)
                entries.append(TimelineEntry(at=at, event="NoticeSkipped",
                                             detail={**detail, "reason": f"no {channel} address"}))
                continue
            try:
                message_id = self._send(order, kind, channel, to, channels[channel])
            except SendUnconfirmed as exc:
                # the send's answer was lost: it may have gone out. The first time, withdrawn and
                # retried (the customer may get it twice); a retry's unconfirmed send is its last,
                # counted as sent — at most twice, never more (docs/ARCHITECTURE.md, "Notices")
                if channel in claim.resent:
                    results[channel] = ("SENT", None)
                    entries.append(TimelineEntry(at=self.clock(), event="NoticeSent",
                                                 detail={**detail, "to": to, "confirmed": False}))
                else:
                    results[channel] = ("UNCONFIRMED", None)
                    failure = failure or exc
                continue
            except Exception as exc:  # recorded as WITHDRAWN, then raised: the retry sends it
                results[channel] = ("WITHDRAWN", None)
                failure = failure or exc
                continue
            results[channel] = ("SENT", message_id)
            entries.append(TimelineEntry(at=self.clock(), event="NoticeSent", detail={**detail, "to": to}))
        self._record(order_id, claimed, results, entries)
        if failure is not None:
            raise failure
        outcome = {"SENT": "sent", "SKIPPED": "skipped"}
        return [{"channel": c, "result": outcome[results[c][0]] if c in results else "already"} for c in channels]

    def _record(self, order_id: str, notice_id: str, results: dict[str, tuple[str, str | None]],
                entries: list[TimelineEntry]) -> None:
        """Record the outcomes, insisting while the table is busy: a message that went out must
        not be sent again because its record failed (the retry would find the claim unrecorded).
        Three tries a short while apart; then the failure is the event's (retried: at most twice)."""
        for attempt in range(RECORD_TRIES):
            try:
                self.store.record(order_id, notice_id, results, entries)
                return
            except TransientError:
                if attempt == RECORD_TRIES - 1:
                    raise
                self.pause(0.2 * 2**attempt)

    def _send(self, order: Order, kind: str, channel: str, to: str, record: dict[str, Any]) -> str:
        tags = {"order_id": order.order_id, "kind": kind}
        if channel == "email":
            return self.mailer.send(sender=self.sender, to=to, subject=record["subject"], text=record["text"],
                                    html=record["html"] or record["text"], tags=tags)
        return self.texter.send(to=to, text=record["text"], tags=tags)


def _context(order: Order, ref: str | None) -> dict[str, Any]:
    """What a notice's template fills in: the order's, and what ``ref`` names of it (a shipment:
    its carrier and tracking; a return: its RMA and where to send it; a credit note: the amount
    given back and how)."""
    shipment = next((s for s in order.shipments if s.shipment_id == ref), None)
    ret = next((r for r in order.returns if r.return_id == ref), None)
    note = next((n for n in order.credit_notes if n.credit_note_number == ref), None)
    lines: Sequence[Any] = shipment.lines if shipment else ret.lines if ret else note.lines if note else order.lines
    context = {
        "name": order.shipping_address.name or order.customer.customer_id,
        "reference": order.channel_order_id or order.order_id,
        "total": fmt(order.totals.total, order.currency), "currency": order.currency,
        "lines": "\n".join(f"  {ln.quantity} × {ln.sku}" for ln in lines),
        "carrier": (shipment.carrier if shipment else "") or "",
        "tracking_number": (shipment.tracking_number if shipment else "") or "",
        "rma_number": "", "return_address": "", "amount": "", "credit_note_number": "", "variant": "",
    }
    if ret is not None:
        a = ret.return_to_address
        where = [a.get("name"), a.get("line1"), a.get("line2"), " ".join(str(a.get(k) or "") for k in
                 ("postal_code", "city")).strip(), a.get("country")]
        context.update(rma_number=ret.rma_number, return_address="\n".join(f"  {w}" for w in where if w))
    if note is not None:
        context.update(amount=fmt(note.gross, note.currency), currency=note.currency,
                       credit_note_number=note.credit_note_number,
                       variant="on_account" if order.payment.method == "on_account" else "")
    return context
