"""Invoice items ``ORDER#<order>`` / ``INVOICE#<number>`` (immutable once issued, apart from
their payment fields), listed for finance through GSI1 ``INVOICES#<legal entity>#<yyyy-mm>`` /
``<issued_at>#<number>`` with the projected ``summary``; and the gapless number counters
``COUNTER#INV#<legal entity>#<year>`` / ``COUNTER``."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from functions.core.invoices import Invoice, PaymentStatus, invoice_view
from functions.core.money import fmt
from functions.core.orders import OrderLine

from .keys import order_pk


def counter_key(legal_entity: str, year: int) -> dict[str, str]:
    return {"PK": f"COUNTER#INV#{legal_entity}#{year}", "SK": "COUNTER"}


def invoice_key(order_id: str, number: str) -> dict[str, str]:
    return {"PK": order_pk(order_id), "SK": f"INVOICE#{number}"}


def invoice_item(inv: Invoice) -> dict[str, Any]:
    c = inv.currency
    # the view only once, in ``summary`` (projected to GSI1 for finance's listing)
    return {**invoice_key(inv.order_id, inv.invoice_number), "type": "invoice", "order_id": inv.order_id,
            "lines": [{"line_id": ln.line_id, "sku": ln.sku, "quantity": ln.quantity,
                       "unit_price": fmt(ln.unit_price, c), "tax_class": ln.tax_class,
                       "net": fmt(ln.net, c), "tax": fmt(ln.tax, c)} for ln in inv.lines],
            "shipping_net": fmt(inv.shipping_net, c), "shipping_tax": fmt(inv.shipping_tax, c),
            "settled_at": inv.settled_at,
            "GSI1PK": f"INVOICES#{inv.legal_entity}#{inv.issued_at[:7]}",
            "GSI1SK": f"{inv.issued_at}#{inv.invoice_number}", "summary": invoice_view(inv)}


def invoice_from_item(stored: dict[str, Any]) -> Invoice:
    item = {**stored.get("summary", {}), **stored}
    return Invoice(
        invoice_number=item["invoice_number"], order_id=item["order_id"], shipment_id=item["shipment_id"],
        legal_entity=item["legal_entity"], currency=item["currency"], issued_at=item["issued_at"],
        lines=tuple(OrderLine(line_id=ln["line_id"], sku=ln["sku"], quantity=int(ln["quantity"]),
                                unit_price=Decimal(ln["unit_price"]), tax_class=ln["tax_class"],
                                net=Decimal(ln["net"]), tax=Decimal(ln["tax"])) for ln in item["lines"]),
        shipping_net=Decimal(item["shipping_net"]), shipping_tax=Decimal(item["shipping_tax"]),
        net=Decimal(item["net"]), tax=Decimal(item["tax"]), gross=Decimal(item["gross"]),
        payment_status=PaymentStatus(item["payment_status"]), payment_reference=item.get("payment_reference"),
        settled_at=item.get("settled_at"), kind=item.get("kind", "invoice"))
