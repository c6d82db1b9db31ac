"""Money and tax: what a webshop authorises must equal what the OMS will invoice."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from functions.capture.pricing import LineInput, price_order, wire_totals
from functions.core.errors import ValidationFailed
from functions.core.money import AmountError, fmt, parse_amount


def test_api_md_example_totals_35_58() -> None:
    # Given 2 × 12.50 net to Germany, standard shipping
    totals = price_order(currency="EUR", country="DE", lines=[LineInput(2, Decimal("12.50"))],
                         shipping_method="standard", shipping_price=None)
    # Then 25.00 net + 4.90 shipping + 19 % VAT = 35.58
    assert wire_totals(totals.totals, "EUR") == {
        "subtotal": "25.00", "shipping": "4.90", "tax": "5.68", "total": "35.58"}


def test_tax_is_rounded_half_up_per_line() -> None:
    # 0.05 × 19 % = 0.0095 → 0.01 on each of three lines (half-up), not 0.03 rounded once from 0.0285
    totals = price_order(currency="EUR", country="DE", lines=[LineInput(1, Decimal("0.05"))] * 3,
                         shipping_method="standard", shipping_price=Decimal("0"))
    assert [p.tax for p in totals.lines] == [Decimal("0.01")] * 3
    assert totals.totals.tax == Decimal("0.03")


def test_reduced_and_zero_tax_classes_use_destination_rates() -> None:
    totals = price_order(currency="EUR", country="FR",
                         lines=[LineInput(1, Decimal("100.00"), "reduced"), LineInput(1, Decimal("100.00"), "zero")],
                         shipping_method="express", shipping_price=None)
    assert [p.tax for p in totals.lines] == [Decimal("5.50"), Decimal("0.00")]
    assert totals.totals.shipping == Decimal("14.90")


def test_channel_shipping_price_overrides_the_table() -> None:
    totals = price_order(currency="EUR", country="DE", lines=[LineInput(1, Decimal("10.00"))],
                         shipping_method="standard", shipping_price=Decimal("0.00"))
    assert totals.totals.total == Decimal("11.90")


def test_unknown_destination_names_the_country_field() -> None:
    with pytest.raises(ValidationFailed) as err:
        price_order(currency="EUR", country="ZZ", lines=[LineInput(1, Decimal("1.00"))],
                    shipping_method="standard", shipping_price=None)
    assert err.value.errors[0].field == "shipping_address.country"


def test_no_list_shipping_price_in_another_currency() -> None:
    with pytest.raises(ValidationFailed) as err:
        price_order(currency="USD", country="DE", lines=[LineInput(1, Decimal("1.00"))],
                    shipping_method="standard", shipping_price=None)
    assert err.value.errors[0].field == "shipping_price"


@pytest.mark.parametrize("text", ["12.505", "-1.00", "1e3", "abc", "", " 1.00", "01.00", "1.", ".5"])
def test_bad_amounts_are_rejected_not_rounded(text: str) -> None:
    with pytest.raises(AmountError):
        parse_amount(text, "EUR")


def test_amount_must_be_a_string_not_a_json_number() -> None:
    with pytest.raises(AmountError, match="decimal string"):
        parse_amount(12.5, "EUR")


@pytest.mark.parametrize(("text", "wire"), [("12.5", "12.50"), ("0", "0.00"), ("7", "7.00"), ("12.50", "12.50")])
def test_short_amounts_are_accepted_and_shown_with_the_currency_decimals(text: str, wire: str) -> None:
    assert fmt(parse_amount(text, "EUR"), "EUR") == wire


cents = st.integers(min_value=0, max_value=10_000_000).map(lambda c: Decimal(c).scaleb(-2))


@given(lines=st.lists(st.tuples(st.integers(1, 500), cents, st.sampled_from(["standard", "reduced", "zero"])),
                      min_size=1, max_size=40),
       country=st.sampled_from(["DE", "FR", "NL", "AT", "IT", "ES", "GB", "US"]),
       shipping=cents)
def test_totals_always_add_up_to_the_cent(lines: list[tuple[int, Decimal, str]], country: str,
                                          shipping: Decimal) -> None:
    currency = "GBP" if country == "GB" else ("USD" if country == "US" else "EUR")
    priced = price_order(currency=currency, country=country, lines=[LineInput(q, p, c) for q, p, c in lines],
                         shipping_method="standard", shipping_price=shipping)
    t = priced.totals
    assert t.total == t.subtotal + t.shipping + t.tax
    assert t.tax == sum(p.tax for p in priced.lines) + t.shipping_tax
    assert all(v == v.quantize(Decimal("0.01")) for v in (t.total, t.tax, t.subtotal))
    assert t.tax >= 0
