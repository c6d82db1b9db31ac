"""The order as every capability reads it: one consistent Query of ``PK = ORDER#<id>`` (header,
details, shipments, invoices, notices, flags) mapped to the ``Order`` entity, with its timeline
from the entries on those items. The writes live with the capability that owns each fact
(capture's in ``capture/adapters/order_table.py``, allocate's, route's, invoice's, notify's).

Item shapes (see docs/ARCHITECTURE.md, "Single table"):
- header ``ORDER#<id>`` / ``ORDER``: what changes — ``status`` + ``version`` for conditional
  writes, the allocation, counters — kept under 1 KB for an order of a few lines, since every
  state change rewrites it (DynamoDB bills a write by the whole item's size, twice in a
  transaction). Its ``summary`` (the only attribute the GSIs project) never changes.
- details ``ORDER#<id>`` / ``DETAILS``: what the order was captured with, written once.
- shipments, invoices and finance flags under the same partition, each with its view in
  ``summary``; the timeline is not an item of its own (``timeline.py``).
- reservation parts ``ORDER#<id>`` / ``RESERVE#<execution>#<n>`` of an order too large for one
  transaction (``reservation_parts.py``): its plan, where the header of a small order holds it.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from functions.core.invoices import CreditNote, Invoice, PaymentStatus, RefundStatus
from functions.core.orders import (
    Address,
    Customer,
    NoticeRecord,
    Order,
    OrderLine,
    OrderStatus,
    Payment,
    ReservationPart,
    Shipment,
    ShipmentLine,
    ShipmentStatus,
    TimelineEntry,
    Totals,
)
from functions.core.sourcing import allocations_from
from functions.core.taxes import TaxScheme, TaxTreatment, VatIdStatus

from .dynamodb import TableAdapter, from_item, to_value
from .keys import (
    OPEN_INDEX_SK,
    is_credit_note,
    is_details,
    is_flag,
    is_header,
    is_invoice,
    is_notice,
    is_reservation_part,
    is_return,
    is_return_ledger,
    is_shipment,
    notice_ref_of,
    order_pk,
)
from .timeline import entries_of


def line_from_item(ln: dict[str, Any]) -> OrderLine:
    return OrderLine(line_id=ln["line_id"], sku=ln["sku"], quantity=int(ln["quantity"]),
                     unit_price=Decimal(ln["unit_price"]), tax_class=ln["tax_class"],
                     net=Decimal(ln["net"]), tax=Decimal(ln["tax"]), returnable=bool(ln.get("returnable", True)))


def shipment_from_item(stored: dict[str, Any]) -> Shipment:
    item = {**stored.get("summary", {}), **stored}
    return Shipment(shipment_id=item["shipment_id"], order_id=item["order_id"], node_id=item["node_id"],
                    status=ShipmentStatus(item["status"]),
                    lines=tuple(ShipmentLine(ln["line_id"], ln["sku"], int(ln["quantity"])) for ln in item["lines"]),
                    requested_at=item["requested_at"], carrier=item.get("carrier"),
                    tracking_number=item.get("tracking_number"), dispatched_at=item.get("dispatched_at"))


def order_from_items(header: dict[str, Any], details: dict[str, Any], timeline: Sequence[TimelineEntry] = (),
                     shipments: Sequence[dict[str, Any]] = (), invoices: Sequence[dict[str, Any]] = (),
                     flags: Sequence[dict[str, Any]] = (), parts: Sequence[dict[str, Any]] = (),
                     notices: Sequence[dict[str, Any]] = (), returns: Sequence[dict[str, Any]] = (),
                     ledger: dict[str, Any] | None = None, credit_notes: Sequence[dict[str, Any]] = ()) -> Order:
    h = {**details, **header}
    reservation_parts: tuple[ReservationPart, ...] = ()
    if parts:  # only a large order has parts: their module is not loaded for the others (cold starts)
        from .reservation_parts import part_from_item

        reservation_parts = tuple(part_from_item(p) for p in parts)
    # a large order's plan is in its reservation parts, not on the header (which every state
    # change rewrites): those of the execution that carried it into fulfilment
    allocation = h.get("allocation") if "reserved_parts" not in h else [
        {"line_id": a.line_id, "sku": a.sku, "node_id": a.node_id, "quantity": a.quantity}
        for p in reservation_parts if p.execution_id == h.get("accepted_by") for a in p.lines]
    pay = h["payment"]
    return Order(
        order_id=h["order_id"], channel=h["channel"], channel_order_id=h.get("channel_order_id"),
        status=OrderStatus(h["status"]), version=int(h["version"]), currency=h["currency"],
        customer=Customer(**h["customer"]),
        lines=tuple(line_from_item(ln) for ln in h["lines"]),
        shipping_address=Address(**h["shipping_address"]), shipping_method=h["shipping_method"],
        payment=Payment(method=pay["method"], authorization_id=pay.get("authorization_id"),
                        amount=Decimal(pay["amount"]) if pay.get("amount") is not None else None),
        totals=Totals(**{k: Decimal(v) for k, v in h["totals"].items()}),
        created_at=h["created_at"], updated_at=h["updated_at"], cancel_reason=h.get("cancel_reason"),
        exchange_for=(h.get("summary") or {}).get("exchange_for"),
        tax=tax_from_item(h["tax"]) if h.get("tax") else None,
        purchase_order_number=h.get("purchase_order_number"),
        timeline=tuple(timeline),
        allocations=tuple(allocations_from(allocation)),
        shipments=tuple(shipment_from_item(s) for s in shipments),
        invoices=tuple(invoice_from_item(i) for i in invoices),
        credit_notes=tuple(sorted((credit_note_from_item(n) for n in credit_notes),
                                  key=lambda n: (n.issued_at, n.credit_note_number))),
        finance_reviews=tuple({k: f.get(k) for k in ("shipment_id", "reason", "error", "at")}
                              | {k: f[k] for k in ("return_id", "receipt_id") if f.get(k)}
                              for f in flags if not f.get("resolved_at")),  # open reviews only
        payment_released_at=h.get("payment_released_at"),
        reservation_parts=reservation_parts,
        notices=tuple(notice_from_item(n) for n in notices if n.get("channels") is not None or n.get("superseded")),
        check_after=str(header[OPEN_INDEX_SK]).rsplit("#", 1)[0] if header.get(OPEN_INDEX_SK) else None,
        returns=_returns(returns),
        returning={str(k): int(v) for k, v in ((ledger or {}).get(LEDGER_LINES) or {}).items()},
        ledger_version=int((ledger or {}).get(LEDGER_VERSION) or 0),
    )


#: A return ledger's map of units per line id (``keys.return_ledger_key``).
LEDGER_LINES = "lines"
#: Its version: moved on by every write of the ledger (an authorisation, a rejection, a close).
LEDGER_VERSION = "version"


def _returns(items: Sequence[dict[str, Any]]) -> tuple[Any, ...]:
    if not items:  # most orders have none: the module is not loaded for them (cold starts)
        return ()
    return tuple(sorted((return_from_item(i) for i in items), key=lambda x: (x.created_at, x.return_id)))


def return_from_item(stored: dict[str, Any]) -> Any:
    """A return item (or its ``summary``, as GSI1 projects it) → ``Return``."""
    from functions.core.returns import (
        ExchangeLine,
        Receipt,
        ReceiptCondition,
        ReceivedLine,
        Return,
        ReturnLine,
        ReturnOutcome,
        ReturnReason,
        ReturnStatus,
    )

    r = {**stored.get("summary", {}), **stored}
    return Return(
        return_id=r["return_id"], rma_number=r["rma_number"], order_id=r["order_id"], channel=r["channel"],
        status=ReturnStatus(r["status"]), outcome=ReturnOutcome(r["outcome"]),
        lines=tuple(ReturnLine(ln["line_id"], ln["sku"], int(ln["quantity"]), ReturnReason(ln["reason"]))
                    for ln in r["lines"]),
        return_to_node=r["return_to"]["node_id"], return_to_address=dict(r["return_to"]["address"]),
        created_at=r["created_at"], updated_at=r["updated_at"], version=int(r["version"]),
        exchange_lines=tuple(ExchangeLine(e["sku"], int(e["quantity"])) for e in r.get("exchange_lines") or []),
        exchange_order_id=r.get("exchange_order_id"),
        received={k: int(v) for k, v in (r.get("received") or {}).items()},
        request_key=r.get("request_key"), request_digest=r.get("request_digest"),
        receipts=tuple(Receipt(x["receipt_id"], x["received_at"], tuple(
            ReceivedLine(ln["line_id"], int(ln["quantity"]), ReceiptCondition(ln["condition"]))
            for ln in x["lines"])) for x in r.get("receipts") or []))


def notice_from_item(item: dict[str, Any]) -> NoticeRecord:
    ref = notice_ref_of(item)
    return NoticeRecord(kind=str(item.get("kind") or str(item.get("SK", "")).split("#")[1]),
                        ref=None if ref == item.get("order_id") or ref.startswith("ord_") else ref,
                        channels={c: str((r or {}).get("status")) for c, r in (item.get("channels") or {}).items()},
                        lease_until=item.get("lease_until"), superseded=bool(item.get("superseded")))


def invoice_from_item(stored: dict[str, Any]) -> Invoice:
    item = {**stored.get("summary", {}), **stored}
    return Invoice(
        invoice_number=item["invoice_number"], order_id=item["order_id"], shipment_id=item["shipment_id"],
        legal_entity=item["legal_entity"], currency=item["currency"], issued_at=item["issued_at"],
        lines=tuple(line_from_item(ln) for ln in item["lines"]),
        shipping_net=Decimal(item["shipping_net"]), shipping_tax=Decimal(item["shipping_tax"]),
        net=Decimal(item["net"]), tax=Decimal(item["tax"]), gross=Decimal(item["gross"]),
        payment_status=PaymentStatus(item["payment_status"]), payment_reference=item.get("payment_reference"),
        settled_at=item.get("settled_at"), kind=item.get("kind", "invoice"), due_date=item.get("due_date"),
        open_amount=Decimal(str(item["open_amount"])) if item.get("open_amount") is not None else None)


def credit_note_from_item(stored: dict[str, Any]) -> CreditNote:
    item = {**stored.get("summary", {}), **stored}
    return CreditNote(
        credit_note_number=item["invoice_number"], order_id=item["order_id"], return_id=item["return_id"],
        receipt_id=item["receipt_id"], corrects=item["corrects"], legal_entity=item["legal_entity"],
        currency=item["currency"], issued_at=item["issued_at"],
        lines=tuple(line_from_item(ln) for ln in item["lines"]),
        shipping_net=Decimal(item["shipping_net"]), shipping_tax=Decimal(item["shipping_tax"]),
        net=Decimal(item["net"]), tax=Decimal(item["tax"]), gross=Decimal(item["gross"]),
        refund_status=RefundStatus(item["payment_status"]), refund_reference=item.get("payment_reference"),
        refunded_at=item.get("refunded_at"), refund_claimed_at=item.get("refund_claimed_at"))


class OrderTableReader(TableAdapter):
    """The ``OrderReader`` port over the table (``core/ports.py``)."""

    def get(self, order_id: str) -> Order | None:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table, "ConsistentRead": True,
            "KeyConditionExpression": "PK = :pk",
            "ExpressionAttributeValues": {":pk": to_value(order_pk(order_id))},
        }
        while True:
            page = self.db.query(**kwargs)
            items.extend(from_item(i) for i in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        header = next((i for i in items if is_header(i)), None)
        details = next((i for i in items if is_details(i)), None)
        if header is None or details is None:
            return None
        shipments = [i for i in items if is_shipment(i)]
        invoices = [i for i in items if is_invoice(i)]
        flags = [i for i in items if is_flag(i)]
        parts = [i for i in items if is_reservation_part(i)]
        notices = [i for i in items if is_notice(i)]
        returns = [i for i in items if is_return(i)]
        ledger = next((i for i in items if is_return_ledger(i)), None)
        credit_notes = [i for i in items if is_credit_note(i)]
        return order_from_items(header, details, entries_of(items), shipments, invoices, flags, parts, notices,
                                returns, ledger, credit_notes)


def tax_item(tax: TaxTreatment) -> dict[str, Any]:
    """The order's tax treatment as its details item keeps it (``tax``)."""
    return {"scheme": tax.scheme.value, "country": tax.country,
            **({"vat_id": tax.vat_id} if tax.vat_id else {}),
            **({"vat_id_status": tax.vat_id_status.value} if tax.vat_id_status else {}),
            "rates": {k: str(v) for k, v in tax.rates.items()}}


def tax_from_item(item: dict[str, Any]) -> TaxTreatment:
    status = item.get("vat_id_status")
    return TaxTreatment(scheme=TaxScheme(item["scheme"]), country=item["country"], vat_id=item.get("vat_id"),
                        vat_id_status=VatIdStatus(status) if status else None,
                        rates={k: Decimal(v) for k, v in (item.get("rates") or {}).items()})
