"""How an order is taxed, decided once at capture (``functions/capture/taxation.py``) and printed
on every document of it (``functions/invoice/document.py``): the scheme, the country whose VAT
is charged, the customer's VAT number and what VIES said of it; the VAT rates per country
(``reference/tax_rates.json``); the legal entities that issue the documents
(``reference/legal_entities.json``); the tax notes in the customer's language.

API.md "Finance": B2C at the destination's rate (EU one-stop shop); a business customer with a
valid EU VAT number of another member state → 0 % with the reverse-charge note; outside the EU
→ 0 % with the export note, except where the legal entity is registered for VAT, which keeps
that country's rate."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any


class TaxScheme(StrEnum):
    DOMESTIC = "domestic"  # shipped within the entity's own country: its VAT
    ONE_STOP_SHOP = "one_stop_shop"  # to a consumer (or an unverified business) in another member state: its VAT
    REVERSE_CHARGE = "reverse_charge"  # to a business with a valid VAT number of another member state: 0 %
    EXPORT = "export"  # outside the EU: 0 %
    FOREIGN_REGISTRATION = "foreign_registration"  # outside the EU where the entity is VAT-registered: its VAT


#: The schemes that charge no VAT, whatever the line's tax class.
UNTAXED = frozenset({TaxScheme.REVERSE_CHARGE, TaxScheme.EXPORT})


class VatIdStatus(StrEnum):
    VALID = "valid"  # VIES confirmed it at capture
    NOT_REGISTERED = "not_registered"  # VIES knows no such active number: VAT charged
    UNVERIFIED = "unverified"  # VIES could not answer at capture: VAT charged (``vat_id_unverified``)
    NOT_APPLICABLE = "not_applicable"  # given, but not needed (a domestic or export supply)


@dataclass(frozen=True)
class TaxTreatment:
    scheme: TaxScheme
    #: the destination country (whose VAT is charged, unless the scheme charges none)
    country: str
    vat_id: str | None = None
    vat_id_status: VatIdStatus | None = None
    #: the rate charged per tax class (``standard``, ``reduced``, ``zero``), as fractions; shipping
    #: is charged the ``standard`` one. All 0 for the schemes that charge no VAT.
    rates: dict[str, Decimal] = field(default_factory=dict)

    def rate(self, tax_class: str) -> Decimal:
        """The rate charged for ``tax_class`` (KeyError for a class it does not know: never a
        silent 0 %)."""
        return self.rates[tax_class]

    @property
    def flags(self) -> tuple[str, ...]:
        """What finance should know of it (API.md: the order records ``vat_id_unverified``)."""
        return ("vat_id_unverified",) if self.vat_id_status == VatIdStatus.UNVERIFIED else ()


def tax_category(scheme: TaxScheme, rate_is_zero: bool) -> str:
    """The EN 16931 VAT category (UNTDID 5305) of a line taxed under ``scheme``."""
    if scheme == TaxScheme.REVERSE_CHARGE:
        return "AE"
    if scheme == TaxScheme.EXPORT:
        return "G"
    return "Z" if rate_is_zero else "S"


#: The printed note and the EN 16931 exemption reason code (VATEX) of an untaxed scheme.
_NOTES: dict[TaxScheme, dict[str, str]] = {
    TaxScheme.REVERSE_CHARGE: {
        "en": "Reverse charge: VAT-exempt intra-Community supply of goods (Art. 138 Directive 2006/112/EC); "
              "the customer accounts for the VAT on the intra-Community acquisition.",
        "de": "Reverse Charge: steuerfreie innergemeinschaftliche Lieferung (§ 4 Nr. 1b, § 6a UStG; "
              "Art. 138 MwStSystRL); der Erwerb ist vom Leistungsempfänger zu versteuern.",
    },
    TaxScheme.EXPORT: {
        "en": "Export outside the EU: exempt from VAT (Art. 146 Directive 2006/112/EC).",
        "de": "Steuerfreie Ausfuhrlieferung (§ 4 Nr. 1a, § 6 UStG; Art. 146 MwStSystRL).",
    },
}
EXEMPTION_CODES = {TaxScheme.REVERSE_CHARGE: "VATEX-EU-AE", TaxScheme.EXPORT: "VATEX-EU-G"}


def language_of(locale: str) -> str:
    """The documents' language for a customer's locale: German for ``de*``, else English."""
    return "de" if locale.lower().startswith("de") else "en"


def tax_note(scheme: TaxScheme, language: str) -> str | None:
    notes = _NOTES.get(scheme)
    return None if notes is None else notes.get(language, notes["en"])


@dataclass(frozen=True)
class LegalEntity:
    entity_id: str
    name: str
    line1: str
    postal_code: str
    city: str
    country: str
    vat_id: str
    email: str | None = None
    #: countries outside the EU where it is registered for VAT, with its number there
    vat_registrations: dict[str, str] = field(default_factory=dict)

    def vat_id_in(self, country: str) -> str:
        """The VAT number it invoices under when it charges ``country``'s VAT."""
        return self.vat_registrations.get(country, self.vat_id)


@cache
def _rates() -> dict[str, Any]:
    path = Path(__file__).with_name("reference") / "tax_rates.json"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))["rates"]
    return data


def country_rate(country: str, tax_class: str) -> Decimal | None:
    """The country's own VAT rate for ``tax_class`` (``reference/tax_rates.json``); None for a
    country the table does not know."""
    rates = _rates().get(country)
    return None if rates is None else Decimal(rates[tax_class])


def in_eu(country: str) -> bool:
    """A member state of the EU (its VAT area: one-stop shop, reverse charge)."""
    return bool(_rates().get(country, {}).get("eu", False))


@cache
def _entities() -> dict[str, Any]:
    path = Path(__file__).with_name("reference") / "legal_entities.json"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))["entities"]
    return data


def legal_entity(entity_id: str) -> LegalEntity:
    entry = _entities().get(entity_id)
    if entry is None:
        raise KeyError(f"legal entity {entity_id!r} is not in core/reference/legal_entities.json")
    return LegalEntity(entity_id=entity_id, **{k: v for k, v in entry.items()})


def tax_view(tax: TaxTreatment, locale: str) -> dict[str, Any]:
    """The order's ``tax`` as API.md shows it: the scheme, the country, the customer's VAT
    number and what VIES said, the note printed on its documents and any flag for finance."""
    return {"scheme": tax.scheme.value, "country": tax.country, "vat_id": tax.vat_id,
            "vat_id_status": tax.vat_id_status.value if tax.vat_id_status else None,
            "note": tax_note(tax.scheme, language_of(locale)), "flags": list(tax.flags)}
