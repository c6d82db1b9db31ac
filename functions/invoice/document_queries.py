"""Finance reads the documents (API.md "Finance"): ``GET /invoices`` (finance: invoices and credit
notes by issue date and kind, in order of issue) and ``GET /invoices/{number}`` (finance, agents,
and a channel for its own orders: the document with its lines, rates, tax note, due date and two
short-lived links, null until rendered). No AWS here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from functions.core.errors import BadRequest, NotFound, ValidationFailed
from functions.core.invoices import Invoice, credit_note_view, invoice_view
from functions.core.money import fmt
from functions.core.ports import OrderReader
from functions.core.principal import Principal
from functions.core.taxes import LegalEntity
from functions.core.taxes import legal_entity as legal_entity_details

from .document import document_of, document_view, source_of
from .ports import DocumentIndex, DocumentLinks

#: The longest period one listing covers (a year and a day: a leap year's financial year).
MAX_DAYS = 366
#: The listing's fields (API.md), of the stored view.
LISTED = ("invoice_number", "kind", "order_id", "issued_at", "net", "tax", "gross", "currency",
          "payment_status", "payment_reference", "corrects", "legal_entity", "open_amount")


def _listed(view: dict[str, Any]) -> dict[str, Any]:
    """A stored view as the listing shows it: ``open_amount`` is kept as a number (payments and
    credit notes move it in place) and shown as the currency's decimal string."""
    row = {k: view.get(k) for k in LISTED}
    if row["open_amount"] is not None:
        row["open_amount"] = fmt(Decimal(str(row["open_amount"])), str(row["currency"]))
    return row


def _months(first: date, last: date) -> list[str]:
    months, y, m = [], first.year, first.month
    while (y, m) <= (last.year, last.month):
        months.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return months


@dataclass
class DocumentQueries:
    orders: OrderReader
    index: DocumentIndex
    links: DocumentLinks
    #: the environment's legal entity (whose documents finance lists)
    legal_entity: str
    #: the details of a legal entity by id (each document names the one that issued it)
    entities: Callable[[str], LegalEntity] = legal_entity_details

    def list(self, *, first: date, last: date, kind: str | None, limit: int, token: str | None
             ) -> tuple[list[dict[str, Any]], str | None]:
        """The entity's documents issued from ``first`` to ``last`` (inclusive, UTC), oldest first.
        The token carries the listing it belongs to and the month it stopped in
        (``<from>~<to>~<kind>~<yyyy-mm>|<index token>``): another period or kind is a 400."""
        if last < first:
            raise ValidationFailed("to", f"{last.isoformat()} is before from {first.isoformat()}")
        if (last - first).days >= MAX_DAYS:
            raise ValidationFailed("to", f"a listing covers at most {MAX_DAYS} days; page by period")
        months = _months(first, last)
        listing = f"{first.isoformat()}~{last.isoformat()}~{kind or ''}~"
        month, inner = months[0], None
        if token:
            head, _, rest = token.partition("|")
            month = head.removeprefix(listing)
            if not head.startswith(listing) or month not in months:
                raise BadRequest("next_token does not belong to this listing (its period and kind)")
            inner = rest or None
        found: list[dict[str, Any]] = []
        for m in months[months.index(month):]:
            page, inner = self.index.month(self.legal_entity, m, first=first.isoformat(), last=last.isoformat(),
                                           kind=kind, limit=limit - len(found), token=inner if m == month else None)
            found.extend(_listed(v) for v in page)
            if inner:
                return found, f"{listing}{m}|{inner}"
            if len(found) >= limit:
                later = months[months.index(m) + 1:]
                return found, (f"{listing}{later[0]}|" if later else None)
        return found, None

    def get(self, number: str, principal: Principal) -> dict[str, Any]:
        """The document, or 404 for a number that does not exist or a channel's other orders."""
        order_id = self.index.order_of(number)
        order = self.orders.get(order_id) if order_id else None
        if order is None or not order.visible_to(principal.role, principal.principal_id):
            raise NotFound(f"invoice {number} not found")
        source = source_of(order, number)
        if source is None:
            raise NotFound(f"invoice {number} not found")
        listed = invoice_view(source) if isinstance(source, Invoice) else credit_note_view(source)
        doc = document_of(order, number, self.entities(source.legal_entity))
        files = self.links.files(order.order_id, number)
        return {**listed, **document_view(doc),
                "pdf_url": self.links.link(files.pdf_key, f"{number}.pdf") if files else None,
                "einvoice_url": self.links.link(files.xml_key, f"{number}.xml") if files else None}
