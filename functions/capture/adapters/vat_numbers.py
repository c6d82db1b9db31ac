"""EU VAT numbers compacted and checked offline (format and check digits), with python-stdnum.

The registries (``vies.py``, ``local_vies.py``) call this before anything else: a number that is
malformed or has wrong check digits is the customer's typo (a 422 naming ``customer.vat_id``),
never a question for VIES.
"""

from __future__ import annotations

import re

from functions.capture.ports import InvalidVatNumber

#: The prefixes of the member states' VAT numbers as VIES knows them: Greece is ``EL`` (not its
#: ISO code ``GR``), Northern Ireland ``XI`` (goods only, since 2021).
VAT_PREFIXES = frozenset({
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "EL", "ES", "FI", "FR", "HR", "HU", "IE", "IT", "LT", "LU",
    "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK", "XI",
})

#: How much of what the customer typed a message repeats (enough to recognise it).
_SHOWN = 24


def compact_vat_id(vat_id: str) -> str:
    """``vat_id`` compacted (no spaces, dots, dashes; upper case) once its format and check digits
    are right for its member state: ``"fr 403 032 650 45"`` → ``"FR40303265045"``.

    Greece's ISO code is accepted for its VAT prefix (``GR…`` → ``EL…``, what VIES expects). An
    OSS identification number (``EU…``, ``IM…``) or a non-EU number (``GB…``) is not a member
    state's VAT number. Raises :class:`InvalidVatNumber` with a short message otherwise."""
    # stdnum (and the country module it loads) only when a number is given: most orders carry none,
    # and capture's cold start pays for every import.
    from stdnum.eu import vat
    from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength, ValidationError

    cleaned = re.sub(r"[\s.\-/,:]", "", vat_id).upper()
    shown = cleaned if len(cleaned) <= _SHOWN else cleaned[:_SHOWN] + "…"
    prefix = cleaned[:2]
    if prefix == "GR":
        cleaned, prefix = "EL" + cleaned[2:], "EL"
    if prefix not in VAT_PREFIXES:
        raise InvalidVatNumber(f"{shown or 'an empty string'} is not an EU VAT number (it starts with the "
                               "member state's prefix, such as FR, DE or EL)")
    try:
        number: str = vat.validate(cleaned)
    except InvalidChecksum:
        raise InvalidVatNumber(f"{shown} has wrong check digits") from None
    except InvalidLength:
        raise InvalidVatNumber(f"{shown} has the wrong length for a VAT number of {prefix}") from None
    except (InvalidFormat, InvalidComponent):
        raise InvalidVatNumber(f"{shown} is not in the format of a VAT number of {prefix}") from None
    except ValidationError:
        raise InvalidVatNumber(f"{shown} is not a valid VAT number of {prefix}") from None
    return number

