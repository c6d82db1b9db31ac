"""The local stack's VIES (docs/API.md, "Local environment only") and the offline check of VAT
numbers both registries start with: valid when format and check digits are, "not registered"
when the number ends in 99, refused when malformed — without any network."""

from __future__ import annotations

from itertools import count

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.iso7064 import mod_11_10

from functions.capture.adapters.local_vies import LocalVies
from functions.capture.adapters.vat_numbers import compact_vat_id
from functions.capture.ports import InvalidVatNumber, VatCheck


def german_vat_id(body: int) -> str:
    """The German VAT number of an 8-digit ``body`` (1xxxxxxx…9xxxxxxx): its check digit appended."""
    digits = f"{body:08d}"
    return f"DE{digits}{mod_11_10.calc_check_digit(digits)}"


def ending_in_99() -> str:
    """The first German number ending in 99 whose check digit is right (DE's check digit is its last)."""
    return next(n for n in map(german_vat_id, count(10_000_009, 10)) if n.endswith("99"))


def test_a_number_with_right_check_digits_is_valid() -> None:
    """Given the local stack
    When a webshop checks FR40303265045
    Then it is valid (an intra-Community supply may be reverse charged)."""
    assert LocalVies().check("FR40303265045") == VatCheck.VALID


def test_a_number_ending_in_99_is_not_registered() -> None:
    """Given a number ending in 99 whose check digits are right
    When it is checked
    Then it is not registered (the local way to try a refusal)."""
    number = ending_in_99()
    assert compact_vat_id(number) == number  # its check digits are right
    assert LocalVies().check(number) == VatCheck.NOT_REGISTERED


@pytest.mark.parametrize("typed", ["fr 403 032 650 45", "FR 403.032.650-45", " fr40303265045 "])
def test_spaces_dots_dashes_and_lower_case_are_the_same_number(typed: str) -> None:
    """Given a number typed with separators or in lower case
    When it is checked
    Then it is the same valid number, compacted."""
    assert compact_vat_id(typed) == "FR40303265045"
    assert LocalVies().check(typed) == VatCheck.VALID


@pytest.mark.parametrize(("typed", "compacted"), [
    ("EL 094 259 216", "EL094259216"), ("GR094259216", "EL094259216"), ("XI 123 4567 82", "XI123456782"),
    ("NL004495445B01", "NL004495445B01"), ("ATU13585627", "ATU13585627"),
])
def test_every_member_state_is_known_by_its_vat_prefix(typed: str, compacted: str) -> None:
    """Given numbers of Greece (EL, or typed with its ISO code GR), Northern Ireland (XI) and others
    When they are checked
    Then each is valid, under the prefix VIES uses."""
    assert compact_vat_id(typed) == compacted
    assert LocalVies().check(typed) == VatCheck.VALID


@pytest.mark.parametrize(("typed", "message"), [
    ("FR40303265046", "FR40303265046 has wrong check digits"),
    ("garbage", "not an EU VAT number"),
    ("", "not an EU VAT number"),
    ("US123456789", "not an EU VAT number"),
    ("EU372000041", "not an EU VAT number"),  # an OSS identification number, not a member state's
    ("DE12345", "wrong length"),
    ("FRXX", "format"),
])
def test_a_malformed_number_is_refused_saying_why(typed: str, message: str) -> None:
    """Given a number with wrong check digits, a wrong length or no member state's prefix
    When it is checked
    Then it is refused as invalid (a 422 naming customer.vat_id), with a short reason."""
    with pytest.raises(InvalidVatNumber, match=message):
        LocalVies().check(typed)


def test_a_long_garbage_input_is_not_repeated_in_full() -> None:
    """Given a customer pasting a paragraph into the VAT number field
    When it is checked
    Then the refusal repeats only its start."""
    with pytest.raises(InvalidVatNumber) as refused:
        LocalVies().check("X" * 500)
    assert len(str(refused.value)) < 120


@given(body=st.integers(10_000_000, 99_999_999), separator=st.sampled_from(["", " ", ".", "-"]),
       lower=st.booleans())
def test_any_right_number_is_valid_unless_it_ends_in_99(body: int, separator: str, lower: bool) -> None:
    """Given any German number with a right check digit, however it is typed
    When it is checked
    Then it is not registered exactly when it ends in 99, and valid otherwise."""
    number = german_vat_id(body)
    typed = separator.join([number[:2], number[2:5], number[5:8], number[8:]])
    expected = VatCheck.NOT_REGISTERED if number.endswith("99") else VatCheck.VALID
    assert LocalVies().check(typed.lower() if lower else typed) == expected
