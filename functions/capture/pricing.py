"""Order totals: net line amounts, tax per line at the destination's rate, shipping.

Reference tables (reviewed data, not code): ``capture/reference/shipping_rates.json`` and the
VAT rates, ``core/reference/tax_rates.json`` (shared with the invoice documents). Tax is computed
per line and for shipping, each rounded half-up to the minor unit; the order's tax is the sum
of those, so every invoice built from lines adds up to the cent.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from functions.core.errors import ValidationFailed
from functions.core.money import AmountError, fmt, parse_amount, round_money
from functions.core.orders import Totals
from functions.core.taxes import country_rate
from functions.core.taxes import in_eu as in_eu

_REFERENCE = Path(__file__).with_name("reference")
TAX_CLASSES = ("standard", "reduced", "zero")
SHIPPING_METHODS = ("standard", "express")


@cache
def _table(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((_REFERENCE / f"{name}.json").read_text())["rates"]
    return data


def tax_rate(country: str, tax_class: str) -> Decimal:
    """The country's own VAT rate for ``tax_class`` (which rates an order is charged is its tax
    treatment: reverse charge and exports charge none), or a 422 for a country without rates."""
    rate = country_rate(country, tax_class)
    if rate is None:
        raise ValidationFailed("shipping_address.country", f"no tax rates for destination {country}")
    return rate


def list_shipping_price(country: str, method: str, currency: str) -> Decimal:
    entry = _table("shipping_rates").get(country)
    if entry is None:
        raise ValidationFailed("shipping_address.country", f"no shipping to {country}; send shipping_price")
    prices = entry.get(currency)
    if prices is None:
        raise ValidationFailed(
            "shipping_price",
            f"no list shipping price to {country} in {currency}; send shipping_price",
        )
    return parse_amount(prices[method], currency)


@dataclass(frozen=True)
class PricedLine:
    net: Decimal
    tax: Decimal


@dataclass(frozen=True)
class PricedOrder:
    lines: tuple[PricedLine, ...]
    totals: Totals


def wire_totals(totals: Totals, currency: str) -> dict[str, str]:
    """Totals as API.md shows them: decimal strings with the currency's decimals."""
    return {"subtotal": fmt(totals.subtotal, currency), "shipping": fmt(totals.shipping, currency),
            "tax": fmt(totals.tax, currency), "total": fmt(totals.total, currency)}


@dataclass(frozen=True)
class LineInput:
    quantity: int
    unit_price: Decimal
    tax_class: str = "standard"


def price_order(
    *,
    currency: str,
    country: str,
    lines: list[LineInput],
    shipping_method: str,
    shipping_price: Decimal | None,
    rate: Callable[[str], Decimal] | None = None,
) -> PricedOrder:
    """``rate`` gives the rate charged per tax class (default: the destination's own rates)."""
    rate_of = rate or (lambda tax_class: tax_rate(country, tax_class))
    priced = []
    for line in lines:
        net = line.unit_price * line.quantity
        priced.append(PricedLine(net=net, tax=round_money(net * rate_of(line.tax_class), currency)))
    shipping = (
        shipping_price if shipping_price is not None
        else list_shipping_price(country, shipping_method, currency)
    )
    shipping_tax = round_money(shipping * rate_of("standard"), currency)
    subtotal = sum((p.net for p in priced), Decimal(0))
    tax = sum((p.tax for p in priced), Decimal(0)) + shipping_tax
    totals = Totals(subtotal=subtotal, shipping=shipping, shipping_tax=shipping_tax, tax=tax,
                    total=subtotal + shipping + tax)
    return PricedOrder(lines=tuple(priced), totals=totals)


def amount(field: str, text: object, currency: str) -> Decimal:
    """Parse an amount, turning a bad one into a 422 that names ``field``."""
    try:
        return parse_amount(text, currency)
    except AmountError as exc:
        raise ValidationFailed(field, str(exc)) from exc
