"""Crediting rules: what a receipt of a return credits, against which invoices, and the credit
notes' numbers. No AWS here.

Rules (API.md "Returns", "Finance"):
- A receipt credits every unit it received, resellable or damaged. Each unit is credited
  against an invoice that billed its line (invoices by number), up to what that invoice billed
  of the line less what earlier credit notes credited of it: one credit note per invoice a
  receipt touches, ``corrects`` naming it.
- Net is exact (the invoice's unit price × units). Tax is at the invoice's own rate: the
  invoice line's tax for all the units credited so far (these and earlier notes'), rounded
  half-up, less what earlier notes credited — so no note's tax is negative, an invoice's notes
  never sum to more than it, and an invoice returned in full is credited to the cent.
- Shipping (net and tax, as the invoice that billed it) is credited too when the merchant is at
  fault (a line of any of the order's returns given as ``DAMAGED``, ``DEFECTIVE`` or
  ``WRONG_ITEM``) and this receipt brings the whole order back (what every return received,
  closed ones included); once.
- Amounts are positive; net + tax = gross. Numbers are ``CN-<UTC year>-<6 digits>``, gapless
  per legal entity and year on their own counter (a receipt's notes are numbered together in
  the write that issues them).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from functions.core.invoices import CreditNote, Invoice
from functions.core.money import round_money
from functions.core.orders import Order, OrderLine
from functions.core.returns import Receipt, Return, ReturnReason, ReturnStatus

#: Reasons for which the merchant pays the shipping back (when the whole order returns).
MERCHANT_AT_FAULT = frozenset({ReturnReason.DAMAGED, ReturnReason.DEFECTIVE, ReturnReason.WRONG_ITEM})


class NotYetInvoiced(Exception):
    """Some received units are on no invoice yet (the shipment's invoicing has not run): the
    credit waits for it (the workflow retries)."""


def credit_note_number(year: int, n: int) -> str:
    if not 0 < n < 1_000_000:
        raise ValueError(f"credit note sequence {n} outside 1..999999")
    return f"CN-{year}-{n:06d}"


@dataclass(frozen=True)
class _Credit:
    invoice: Invoice
    lines: list[OrderLine]
    shipping: bool = False


def credit_receipt(order: Order, ret: Return, receipt: Receipt, *, first_number: int, issued_at: str,
                   legal_entity: str) -> list[CreditNote]:
    """The credit notes of ``receipt`` (numbered from ``first_number`` in invoice order), given
    the order as read with its invoices and earlier credit notes (none of this receipt's)."""
    credited_units: dict[tuple[str, str], int] = {}
    credited_tax: dict[tuple[str, str], Decimal] = {}
    for cn in order.credit_notes:
        for ln in cn.lines:
            key = (cn.corrects, ln.line_id)
            credited_units[key] = credited_units.get(key, 0) + ln.quantity
            credited_tax[key] = credited_tax.get(key, Decimal(0)) + ln.tax
    invoices = sorted(order.invoices, key=lambda i: i.invoice_number)
    credits: dict[str, _Credit] = {}
    for line_id, units in sorted(receipt.units().items()):
        left = units
        for inv in invoices:
            billed = next((ln for ln in inv.lines if ln.line_id == line_id), None)
            if billed is None or not left:
                continue
            key = (inv.invoice_number, line_id)
            done = credited_units.get(key, 0)
            take = min(left, billed.quantity - done)
            if take <= 0:
                continue
            # the line's tax credited so far, rounded as a whole, less what earlier notes credited:
            # never negative, never above the line's tax, the line's tax exactly once all is back
            tax = round_money(billed.tax * (done + take) / billed.quantity, order.currency) \
                - credited_tax.get(key, Decimal(0))
            credits.setdefault(inv.invoice_number, _Credit(inv, [])).lines.append(OrderLine(
                line_id=line_id, sku=billed.sku, quantity=take, unit_price=billed.unit_price,
                tax_class=billed.tax_class, net=billed.unit_price * take, tax=tax))
            left -= take
        if left:
            raise NotYetInvoiced(f"{left} received unit(s) of line {line_id} are on no invoice of {order.order_id}")
    shipping_invoice = _shipping_to_credit(order, ret, receipt, invoices)
    if shipping_invoice is not None:
        number = shipping_invoice.invoice_number
        credits[number] = _Credit(shipping_invoice, credits[number].lines if number in credits else [], True)
    notes = []
    for n, number in enumerate(sorted(credits)):
        credit = credits[number]
        inv = credit.invoice
        shipping_net = inv.shipping_net if credit.shipping else Decimal(0)
        shipping_tax = inv.shipping_tax if credit.shipping else Decimal(0)
        net = sum((ln.net for ln in credit.lines), Decimal(0)) + shipping_net
        tax = sum((ln.tax for ln in credit.lines), Decimal(0)) + shipping_tax
        notes.append(CreditNote(
            credit_note_number=credit_note_number(int(issued_at[:4]), first_number + n), order_id=order.order_id,
            return_id=ret.return_id, receipt_id=receipt.receipt_id, corrects=number, legal_entity=legal_entity,
            currency=order.currency, issued_at=issued_at, lines=tuple(credit.lines), shipping_net=shipping_net,
            shipping_tax=shipping_tax, net=net, tax=tax, gross=net + tax))
    return notes


def _shipping_to_credit(order: Order, ret: Return, receipt: Receipt, invoices: list[Invoice]) -> Invoice | None:
    """The invoice whose shipping this receipt credits, if the merchant is at fault, the receipt
    brings the whole order back, and no credit note has credited shipping yet."""
    returns = [r for r in order.returns if r.status != ReturnStatus.REJECTED or r.return_id == ret.return_id]
    if not any(ln.reason in MERCHANT_AT_FAULT for r in returns for ln in r.lines):
        return None
    if any(cn.shipping_net or cn.shipping_tax for cn in order.credit_notes):
        return None
    received: dict[str, int] = {}
    for r in returns:
        for line_id, units in r.received.items():
            received[line_id] = received.get(line_id, 0) + units
    if not receipt.lines or any(received.get(ln.line_id, 0) < ln.quantity for ln in order.lines):
        return None
    return next((i for i in invoices if i.shipping_net or i.shipping_tax), None)
