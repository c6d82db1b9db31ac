"""Customer notices, per kind and language (en, de; anything else falls back to en).

Templates are ``string.Template`` text: ``$name`` placeholders filled from the notice's
context; the HTML body escapes every value. A context's ``variant`` picks ``text_<variant>``
where a kind has one (a refund on account is credited, not paid back to a card).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from string import Template
from typing import Any

KINDS = ("order_confirmed", "order_backordered", "shipment_dispatched", "order_cancelled", "return_authorized",
         "refund_issued")


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


_T["return_authorized"] = {
    "en": {"subject": "Your return $rma_number for order $reference",
           "text": "Hello $name,\n\nyour return for order $reference is authorised. Please write the return "
                   "number $rma_number on the parcel and send it to:\n\n$return_address\n\nItems:\n$lines\n\n"
                   "We will refund you as soon as it arrives.\n"},
    "de": {"subject": "Ihre Rücksendung $rma_number zur Bestellung $reference",
           "text": "Hallo $name,\n\nIhre Rücksendung zur Bestellung $reference ist genehmigt. Bitte schreiben Sie "
                   "die Rücksendenummer $rma_number auf das Paket und senden Sie es an:\n\n$return_address\n\n"
                   "Artikel:\n$lines\n\nSobald es bei uns eintrifft, erstatten wir Ihnen den Betrag.\n"},
}
_T["refund_issued"] = {
    "en": {"subject": "Your refund for order $reference",
           "text": "Hello $name,\n\nwe have received your return and refunded $amount $currency to your original "
                   "payment method (credit note $credit_note_number). Depending on your bank it can take a few days "
                   "to show.\n\nItems:\n$lines\n",
           "text_on_account": "Hello $name,\n\nwe have received your return and credited $amount $currency to "
                              "your account (credit note $credit_note_number).\n\nItems:\n$lines\n"},
    "de": {"subject": "Ihre Erstattung zur Bestellung $reference",
           "text": "Hallo $name,\n\nIhre Rücksendung ist bei uns eingetroffen; wir haben Ihnen $amount $currency "
                   "auf Ihr ursprüngliches Zahlungsmittel erstattet (Gutschrift $credit_note_number). Je nach Bank "
                   "kann die Gutschrift einige Tage dauern.\n\nArtikel:\n$lines\n",
           "text_on_account": "Hallo $name,\n\nIhre Rücksendung ist bei uns eingetroffen; wir haben Ihrem Konto "
                              "$amount $currency gutgeschrieben (Gutschrift $credit_note_number).\n\n"
                              "Artikel:\n$lines\n"},
}


def language(locale: str | None) -> str:
    lang = (locale or "en").split("-")[0].lower()
    return lang if lang in ("en", "de") else "en"


def render(kind: str, locale: str | None, context: dict[str, Any]) -> Rendered:
    t = _T[kind][language(locale)]
    source = t.get(f"text_{context.get('variant')}", t["text"])
    values = {k: str(v) for k, v in context.items()}
    text = Template(source).substitute(values)
    escaped = {k: html.escape(v) for k, v in values.items()}
    body = Template(source).substitute(escaped).replace("\n", "<br>\n")
    return Rendered(
        subject=Template(t["subject"]).substitute(values), text=text,
        html=f"<!doctype html><html><body style=\"font-family:sans-serif\"><p>{body}</p></body></html>",
        sms=Template(t["sms"]).substitute(values) if "sms" in t else None,
    )
