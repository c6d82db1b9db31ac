"""Render every invoice and credit note once (API.md "Finance"): the PDF (Factur-X, PDF/A-3 with
the EN 16931 CII XML embedded) and the XML, stored beside each other; the invoice's links are
null until both are there. Asked for by the invoice stream (one message per new document, at
least once), off the capture and dispatch paths. No AWS here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from functions.core.events import utc_now
from functions.core.ports import OrderReader
from functions.core.taxes import LegalEntity, legal_entity

from .document import document_of, source_of
from .ports import DocumentStore, Renderer


@dataclass
class RenderService:
    orders: OrderReader
    store: DocumentStore
    render: Renderer
    entities: Callable[[str], LegalEntity] = legal_entity
    clock: Callable[[], str] = utc_now

    def render_document(self, order_id: str, number: str) -> str:
        """``rendered``; ``already`` (a repeat: nothing written); ``unknown`` (no such order or
        document: a message for something that does not exist is dropped, never retried)."""
        order = self.orders.get(order_id)
        if order is None:
            return "unknown"
        source = source_of(order, number)
        if source is None:
            return "unknown"
        issuer = source.legal_entity
        if self.store.files(order_id, number) is not None:
            return "already"
        rendered = self.render(document_of(order, number, self.entities(issuer)))
        stored = self.store.store(order_id, issuer, number, rendered.pdf, rendered.xml, self.clock())
        return "rendered" if stored else "already"
