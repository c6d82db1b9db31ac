"""Which VAT an order is charged, decided once at capture (API.md "Finance"). No AWS here: the
VAT registry (VIES) comes in through ``VatRegistry`` (ports.py).

- Within the EU, to a consumer: the destination's VAT (the entity's own country: domestic; any
  other member state: the one-stop shop).
- To a business whose VAT number is of another member state than the entity's, shipped to
  another member state: VIES is asked at capture. Valid → reverse charge, 0 %. Not registered →
  VAT as for a consumer. VIES cannot answer → VAT as for a consumer and the order records
  ``vat_id_unverified`` (finance re-checks; a credit note corrects it): never a 5xx, and never a
  0 % that nobody verified.
- Outside the EU: 0 % with the export note, except in a country where the entity is registered
  for VAT (ACME-DE: GB), which keeps that country's rate.

A VAT number that is not needed for the decision (a domestic or export supply, a non-EU number)
is kept as given and printed on the documents, unchecked.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from functions.core.errors import ValidationFailed
from functions.core.taxes import UNTAXED, LegalEntity, TaxScheme, TaxTreatment, VatIdStatus

from .ports import InvalidVatNumber, VatCheck, VatRegistry
from .pricing import TAX_CLASSES, in_eu, tax_rate

#: VAT number prefixes that differ from the ISO country code.
_PREFIX_COUNTRY = {"EL": "GR"}


def normalized_vat_id(vat_id: str) -> str:
    """Compacted, upper case, and Greece's ISO code as its VAT prefix (``GR…`` → ``EL…``, as VIES
    and EN 16931 want it)."""
    number = "".join(ch for ch in vat_id if ch.isalnum()).upper()
    return "EL" + number[2:] if number.startswith("GR") else number


def vat_country(vat_id: str) -> str:
    """The member state a VAT number belongs to, by its prefix (``EL…`` is Greece)."""
    prefix = vat_id[:2]
    return _PREFIX_COUNTRY.get(prefix, prefix)


def treatment(*, entity: LegalEntity, country: str, vat_id: str | None, registry: VatRegistry) -> TaxTreatment:
    """The tax treatment of an order shipped to ``country`` by ``entity`` for a customer with
    ``vat_id`` (None: a consumer), with the rates it charges per tax class. A malformed EU VAT
    number that would decide it is a 422 naming ``customer.vat_id``."""
    decided = _scheme(entity=entity, country=country, vat_id=vat_id, registry=registry)
    charged = {c: Decimal(0) if decided.scheme in UNTAXED else tax_rate(country, c) for c in TAX_CLASSES}
    return replace(decided, rates=charged)


def _scheme(*, entity: LegalEntity, country: str, vat_id: str | None, registry: VatRegistry) -> TaxTreatment:
    tax_rate(country, "standard")  # an unknown destination is a 422 naming shipping_address.country
    if not in_eu(country):
        if country in entity.vat_registrations:
            return _unchecked(TaxScheme.FOREIGN_REGISTRATION, country, vat_id)
        return _unchecked(TaxScheme.EXPORT, country, vat_id)
    consumer = TaxScheme.DOMESTIC if country == entity.country else TaxScheme.ONE_STOP_SHOP
    if vat_id is None:
        return TaxTreatment(scheme=consumer, country=country)
    number = normalized_vat_id(vat_id)
    member_state = vat_country(number)
    if consumer == TaxScheme.DOMESTIC or not in_eu(member_state) or member_state == entity.country:
        return _unchecked(consumer, country, vat_id)
    try:
        answer = registry.check(number)
    except InvalidVatNumber as exc:
        raise ValidationFailed("customer.vat_id", str(exc)) from exc
    if answer == VatCheck.VALID:
        return TaxTreatment(scheme=TaxScheme.REVERSE_CHARGE, country=country, vat_id=number,
                            vat_id_status=VatIdStatus.VALID)
    status = VatIdStatus.NOT_REGISTERED if answer == VatCheck.NOT_REGISTERED else VatIdStatus.UNVERIFIED
    return TaxTreatment(scheme=consumer, country=country, vat_id=number, vat_id_status=status)


def _unchecked(scheme: TaxScheme, country: str, vat_id: str | None) -> TaxTreatment:
    if vat_id is None:
        return TaxTreatment(scheme=scheme, country=country)
    return TaxTreatment(scheme=scheme, country=country, vat_id=normalized_vat_id(vat_id),
                        vat_id_status=VatIdStatus.NOT_APPLICABLE)
