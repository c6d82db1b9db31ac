"""The local environment's VIES, behind ``VatRegistry`` (ports.py): no network, answers at once.

As docs/API.md promises for the local stack ("Local environment only"): a number whose format and
check digits are right is registered (``FR40303265045``), except one ending in ``99``, which is
answered "not registered" — so a webshop can try the reverse charge and its refusal without
knowing a real unregistered number. It never answers "unavailable": a test that needs VIES down
uses ``ViesRegistry`` against a stand-in server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from functions.capture.adapters.vat_numbers import compact_vat_id
from functions.capture.ports import VatCheck

if TYPE_CHECKING:
    from functions.capture.ports import VatRegistry

#: How a number the local VIES does not know ends (on the whole compacted number).
NOT_REGISTERED_ENDING = "99"


class LocalVies:
    """``VatRegistry`` for the local stack (see the module docstring)."""

    def check(self, vat_id: str) -> VatCheck:
        """``VALID``, or ``NOT_REGISTERED`` for a number ending in ``99``; raises
        :class:`~functions.capture.ports.InvalidVatNumber` for a malformed one."""
        number = compact_vat_id(vat_id)
        return VatCheck.NOT_REGISTERED if number.endswith(NOT_REGISTERED_ENDING) else VatCheck.VALID


if TYPE_CHECKING:  # the adapter satisfies the port
    _port: VatRegistry = LocalVies()
