"""Tax beyond one country (API.md "Finance"): which VAT an order is charged, decided at capture from
the destination, the customer's VAT number (checked through the VIES port) and the entity's VAT
registrations; and what a channel's quote shows for it."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from functions.capture.capturing import CaptureService
from functions.capture.models import OrderIn
from functions.capture.ports import InvalidVatNumber, VatCheck
from functions.capture.pricing import in_eu, tax_rate
from functions.capture.taxation import treatment
from functions.core.errors import ValidationFailed
from functions.core.taxes import TaxScheme, VatIdStatus, legal_entity, tax_note
from tests.samples import ADDRESS, CUSTOMER, card, order_body
from tests.unit.fakes import FakeOrderStore

ACME = legal_entity("ACME-DE")
EU = ["AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT", "LT", "LU",
      "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK"]
RATES = json.loads(Path("functions/core/reference/tax_rates.json").read_text())["rates"]


@dataclass
class Registry:
    """VIES as a test wants it to answer, with the numbers it was asked about."""

    answers: dict[str, VatCheck] = field(default_factory=dict)
    default: VatCheck = VatCheck.VALID
    asked: list[str] = field(default_factory=list)

    def check(self, vat_id: str) -> VatCheck:
        self.asked.append(vat_id)
        if "XX" in vat_id:
            raise InvalidVatNumber(f"{vat_id} is not a valid VAT number")
        return self.answers.get(vat_id, self.default)


def quote(country: str, *, vat_id: str | None = None, registry: Registry | None = None, lines: Any = None,
          shipping_price: str = "10.00", locale: str = "en-GB", currency: str = "EUR") -> dict[str, Any]:
    customer = {**copy.deepcopy(CUSTOMER), "locale": locale, **({"vat_id": vat_id} if vat_id else {})}
    body = order_body(customer=customer, shipping_address={**ADDRESS, "country": country},
                      shipping_price=shipping_price, currency=currency, payment=card("9999.00"),
                      **({"lines": lines} if lines else {}))
    service = CaptureService(store=FakeOrderStore(), legal_entity=ACME, vat_registry=registry or Registry())
    return service.quote(OrderIn.model_validate(body).to_command())


def test_the_rates_table_covers_every_member_state_and_the_entitys_markets() -> None:
    """Given the reviewed rates table, then every EU member state is in it and marked EU, GB, CH, NO
    and US are there and not EU, and every entry has the three tax classes as fractions below 1."""
    assert sorted(c for c, r in RATES.items() if r["eu"]) == sorted(EU)
    assert {"GB", "CH", "NO", "US"} <= {c for c, r in RATES.items() if not r["eu"]}
    for country, rates in RATES.items():
        assert all(Decimal(0) <= Decimal(rates[k]) < 1 for k in ("standard", "reduced", "zero")), country
        assert in_eu(country) == rates["eu"]
    assert tax_rate("FI", "standard") == Decimal("0.255")
    assert tax_rate("CH", "standard") == Decimal("0.081")


def test_a_german_consumer_pays_german_vat_per_line() -> None:
    """Given two 12.50 mugs and a 7 % book to Berlin, when quoted, then 19 % on the mugs and the
    shipping, 7 % on the book, each rounded per line, scheme domestic with no note."""
    q = quote("DE", lines=[{"sku": "MUG", "quantity": 2, "unit_price": "12.50"},
                           {"sku": "BOOK", "quantity": 1, "unit_price": "9.99", "tax_class": "reduced"}])
    assert [ln["tax"] for ln in q["lines"]] == ["4.75", "0.70"]  # 25.00 × 0.19; 9.99 × 0.07 = 0.6993
    assert q["totals"]["tax"] == "7.35"  # + 10.00 shipping × 0.19 = 1.90
    assert q["tax"]["scheme"] == "domestic" and q["tax"]["note"] is None


def test_a_french_consumer_pays_french_vat_one_stop_shop() -> None:
    """Given a consumer in France, then French VAT (20 %, reduced 5.5 %) through the one-stop shop."""
    q = quote("FR", lines=[{"sku": "MUG", "quantity": 3, "unit_price": "0.05"},
                           {"sku": "BOOK", "quantity": 1, "unit_price": "10.10", "tax_class": "reduced"}])
    assert [ln["tax"] for ln in q["lines"]] == ["0.03", "0.56"]  # 0.15 × 0.20; 10.10 × 0.055 = 0.5555 → half up
    assert q["totals"]["tax"] == "2.59" and q["tax"]["scheme"] == "one_stop_shop"


def test_a_french_business_with_a_valid_vat_number_is_reverse_charged() -> None:
    """Given a French business whose VAT number VIES confirms, shipped from the German entity, then
    no VAT on any line nor the shipping, and the reverse-charge note on the quote."""
    registry = Registry()
    q = quote("FR", vat_id="fr 40 303 265 045", registry=registry)
    assert registry.asked == ["FR40303265045"]
    assert q["totals"]["tax"] == "0.00" and q["totals"]["total"] == "35.00"
    assert q["tax"] == {"scheme": "reverse_charge", "country": "FR", "vat_id": "FR40303265045",
                        "vat_id_status": "valid", "note": tax_note(TaxScheme.REVERSE_CHARGE, "en"), "flags": []}
    assert "Reverse charge" in q["tax"]["note"]


def test_the_reverse_charge_note_is_in_the_customers_language() -> None:
    q = quote("AT", vat_id="ATU13585627", locale="de-AT")
    assert q["tax"]["scheme"] == "reverse_charge" and "innergemeinschaftliche Lieferung" in q["tax"]["note"]


def test_a_number_vies_does_not_know_pays_vat_as_a_consumer() -> None:
    """Given a VAT number VIES answers "not registered", then French VAT is charged."""
    q = quote("FR", vat_id="FR40303265099", registry=Registry(default=VatCheck.NOT_REGISTERED))
    assert q["tax"]["scheme"] == "one_stop_shop" and q["tax"]["vat_id_status"] == "not_registered"
    assert q["totals"]["tax"] == "7.00"  # (25.00 + 10.00) × 0.20


def test_vies_unreachable_charges_vat_and_records_vat_id_unverified() -> None:
    """Given VIES cannot answer, then the order is not refused: VAT is charged and the order
    carries the vat_id_unverified flag for finance."""
    q = quote("FR", vat_id="FR40303265045", registry=Registry(default=VatCheck.UNAVAILABLE))
    assert q["totals"]["tax"] == "7.00"
    assert q["tax"]["vat_id_status"] == "unverified" and q["tax"]["flags"] == ["vat_id_unverified"]


def test_a_malformed_vat_number_is_a_422_naming_the_field() -> None:
    with pytest.raises(ValidationFailed) as exc:
        quote("FR", vat_id="FRXX303265045")
    assert [e.field for e in exc.value.errors] == ["customer.vat_id"]


def test_a_german_vat_number_on_a_german_or_french_delivery_is_not_reverse_charged() -> None:
    """Given a business with a German VAT number (the entity's own country), then VIES is not
    asked and the destination's VAT is charged: reverse charge needs another member state's number."""
    registry = Registry()
    assert quote("DE", vat_id="DE100000008", registry=registry)["tax"]["scheme"] == "domestic"
    assert quote("FR", vat_id="DE100000008", registry=registry)["tax"]["scheme"] == "one_stop_shop"
    assert registry.asked == []


def test_a_greek_number_uses_its_el_prefix() -> None:
    registry = Registry()
    assert quote("GR", vat_id="EL094259216", registry=registry)["tax"]["scheme"] == "reverse_charge"
    assert registry.asked == ["EL094259216"]


@pytest.mark.parametrize("country", ["CH", "NO", "US"])
def test_outside_the_eu_is_an_export_at_zero_with_the_export_note(country: str) -> None:
    q = quote(country)
    assert q["totals"]["tax"] == "0.00" and q["tax"]["scheme"] == "export"
    assert "Export outside the EU" in q["tax"]["note"]


def test_a_swiss_business_is_an_export_without_asking_vies() -> None:
    registry = Registry()
    q = quote("CH", vat_id="CHE-116.281.710 MWST", registry=registry)
    assert q["tax"]["scheme"] == "export" and q["tax"]["vat_id_status"] == "not_applicable"
    assert registry.asked == []


def test_gb_where_the_entity_is_registered_keeps_gb_vat() -> None:
    """Given ACME-DE is VAT-registered in GB, then a GB consumer pays 20 % GB VAT, not an export."""
    q = quote("GB", currency="GBP")
    assert q["tax"]["scheme"] == "foreign_registration" and q["tax"]["note"] is None
    assert q["totals"]["tax"] == "7.00"
    assert ACME.vat_id_in("GB") == "GB100000034" and ACME.vat_id_in("FR") == "DE100000008"


def test_an_unknown_destination_is_a_422_naming_the_country() -> None:
    with pytest.raises(ValidationFailed) as exc:
        quote("ZZ")
    assert [e.field for e in exc.value.errors] == ["shipping_address.country"]


@settings(max_examples=60, deadline=None)
@given(country=st.sampled_from([c for c in EU if c != "DE"]),
       lines=st.lists(st.tuples(st.integers(1, 20), st.decimals("0.01", "999.99", places=2),
                                st.sampled_from(["standard", "reduced", "zero"])), min_size=1, max_size=6))
def test_tax_is_the_destinations_rate_per_line_or_nothing_for_a_verified_business(
        country: str, lines: list[tuple[int, Decimal, str]]) -> None:
    """For any member state other than the entity's and any lines: a consumer pays each line's net
    times the destination's rate for its class, rounded half-up per line; the same order for a
    verified business pays no tax at all, and both have the same net."""
    body = [{"sku": f"S{i}", "quantity": q, "unit_price": str(p), "tax_class": c} for i, (q, p, c) in enumerate(lines)]
    b2c = quote(country, lines=body)
    b2b = quote(country, lines=body, vat_id="FR40303265045")
    for line, (q, p, c) in zip(b2c["lines"], lines, strict=True):
        assert Decimal(line["tax"]) == (q * p * tax_rate(country, c)).quantize(Decimal("0.01"), "ROUND_HALF_UP")
    assert b2b["totals"]["tax"] == "0.00" and b2b["totals"]["subtotal"] == b2c["totals"]["subtotal"]
    assert b2b["tax"]["scheme"] == "reverse_charge"


def test_the_treatment_is_what_the_order_keeps() -> None:
    t = treatment(entity=ACME, country="FR", vat_id="FR40303265045", registry=Registry())
    assert (t.scheme, t.vat_id, t.vat_id_status) == (TaxScheme.REVERSE_CHARGE, "FR40303265045", VatIdStatus.VALID)


def test_a_replay_with_a_vat_id_answers_the_first_order_without_asking_vies_again() -> None:
    """Given a French business's order captured with an Idempotency-Key (VIES asked once)
    When the channel sends it again with the same key (a retry after a lost answer)
    Then it gets the same order, and VIES is not asked again (it may be slow or down)."""

    registry = Registry()
    service = CaptureService(store=FakeOrderStore(), legal_entity=ACME, vat_registry=registry)
    body = order_body(customer={**CUSTOMER, "vat_id": "FR40303265045"}, shipping_address={**ADDRESS, "country": "FR"},
                      payment=card("9999.00"))
    new = OrderIn.model_validate(body).to_command()
    first = service.capture_request(new, "webshop", "key-1", body)
    again = service.capture_request(new, "webshop", "key-1", body)
    assert again.replayed and again.order.order_id == first.order.order_id
    assert again.order.tax == first.order.tax and again.order.tax is not None
    assert registry.asked == ["FR40303265045"]
