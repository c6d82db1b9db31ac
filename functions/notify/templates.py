"""Customer notices, per kind and language (en, de; anything else falls back to en).

Templates are ``string.Template`` text: ``$name`` placeholders filled from the notice's
context; the HTML body escapes every value.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from string import Template
from typing import Any

KINDS = ("order_confirmed", "order_backordered", "shipment_dispatched", "order_cancelled")


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    sms: str | None


_T: dict[str, dict[str, dict[str, str]]] = {
    "order_confirmed": {
        "en": {"subject": "Your order $reference is confirmed",
               "text": "Hello $name,\n\nthank you for your order $reference. We have reserved your items and "
                       "will let you know when they ship.\n\nItems:\n$lines\nTotal: $total $currency\n"},
        "de": {"subject": "Ihre Bestellung $reference ist bestätigt",
               "text": "Hallo $name,\n\nvielen Dank für Ihre Bestellung $reference. Ihre Artikel sind für Sie "
                       "reserviert; wir melden uns, sobald sie versandt werden.\n\nArtikel:\n$lines\n"
                       "Summe: $total $currency\n"},
    },
    "order_backordered": {
        "en": {"subject": "Your order $reference is waiting for stock",
               "text": "Hello $name,\n\nsome items of your order $reference are not in stock right now. We will "
                       "ship as soon as they arrive and let you know.\n"},
        "de": {"subject": "Ihre Bestellung $reference wartet auf Ware",
               "text": "Hallo $name,\n\neinige Artikel Ihrer Bestellung $reference sind gerade nicht vorrätig. "
                       "Wir versenden, sobald sie eintreffen, und geben Ihnen Bescheid.\n"},
    },
    "shipment_dispatched": {
        "en": {"subject": "Your order $reference is on its way",
               "text": "Hello $name,\n\nyour parcel for order $reference has left our warehouse.\n"
                       "Carrier: $carrier\nTracking number: $tracking_number\n\nItems:\n$lines\n",
               "sms": "Your order $reference is on its way: $carrier $tracking_number"},
        "de": {"subject": "Ihre Bestellung $reference ist unterwegs",
               "text": "Hallo $name,\n\nIhr Paket zur Bestellung $reference hat unser Lager verlassen.\n"
                       "Versand mit: $carrier\nSendungsnummer: $tracking_number\n\nArtikel:\n$lines\n",
               "sms": "Ihre Bestellung $reference ist unterwegs: $carrier $tracking_number"},
    },
    "order_cancelled": {
        "en": {"subject": "Your order $reference is cancelled",
               "text": "Hello $name,\n\nyour order $reference has been cancelled. Any authorised payment is "
                       "released; you will not be charged.\n"},
        "de": {"subject": "Ihre Bestellung $reference wurde storniert",
               "text": "Hallo $name,\n\nIhre Bestellung $reference wurde storniert. Eine autorisierte Zahlung "
                       "wird freigegeben; Ihnen wird nichts berechnet.\n"},
    },
}


def language(locale: str | None) -> str:
    lang = (locale or "en").split("-")[0].lower()
    return lang if lang in ("en", "de") else "en"


def render(kind: str, locale: str | None, context: dict[str, Any]) -> Rendered:
    t = _T[kind][language(locale)]
    values = {k: str(v) for k, v in context.items()}
    text = Template(t["text"]).substitute(values)
    escaped = {k: html.escape(v) for k, v in values.items()}
    body = Template(t["text"]).substitute(escaped).replace("\n", "<br>\n")
    return Rendered(
        subject=Template(t["subject"]).substitute(values), text=text,
        html=f"<!doctype html><html><body style=\"font-family:sans-serif\"><p>{body}</p></body></html>",
        sms=Template(t["sms"]).substitute(values) if "sms" in t else None,
    )
