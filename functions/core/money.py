"""Money: Decimal amounts with an ISO 4217 currency, decimal strings on the wire.

Rules (API.md): amounts are decimal strings; more decimals than the currency's minor unit
allows is an error, never silently rounded; computed amounts (tax) round half-up per line.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

#: Accepted currencies and their minor-unit exponent.
CURRENCIES: dict[str, int] = {
    "EUR": 2, "GBP": 2, "USD": 2, "CHF": 2, "SEK": 2, "DKK": 2, "PLN": 2, "CZK": 2,
}

_DECIMAL = re.compile(r"^(0|[1-9][0-9]{0,11})(\.[0-9]+)?$")


class AmountError(ValueError):
    """Raised with a message fit to show next to the field."""


def minor_unit(currency: str) -> Decimal:
    return Decimal(1).scaleb(-CURRENCIES[currency])


def parse_amount(text: object, currency: str) -> Decimal:
    """Parse a non-negative decimal string for ``currency`` exactly (no rounding)."""
    if not isinstance(text, str):
        raise AmountError('must be a decimal string such as "12.50"')
    if not _DECIMAL.match(text):
        raise AmountError(f'"{text}" is not a non-negative decimal such as "12.50"')
    value = Decimal(text)
    exponent = CURRENCIES[currency]
    if -int(value.as_tuple().exponent) > exponent:
        raise AmountError(f"{currency} allows at most {exponent} decimals")
    return value.quantize(minor_unit(currency))


def round_money(value: Decimal, currency: str) -> Decimal:
    return value.quantize(minor_unit(currency), rounding=ROUND_HALF_UP)


def fmt(value: Decimal, currency: str) -> str:
    """Wire format: exactly the currency's decimals (``Decimal("4.9")`` → ``"4.90"``)."""
    return str(value.quantize(minor_unit(currency)))
