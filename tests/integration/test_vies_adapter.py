"""The VIES adapter (urllib underneath) against a local server that answers as VIES's REST API
documents (tests/integration/vies_api.py): what a registered, an unregistered and a malformed
number get, and that VIES being down, slow or absent is "unavailable", never "not registered"."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator

import pytest

from functions.capture.adapters.vies import ViesRegistry
from functions.capture.ports import InvalidVatNumber, VatCheck
from tests.integration.vies_api import ViesServer

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def server() -> Iterator[ViesServer]:
    with ViesServer() as running:
        yield running


def registry(server: ViesServer, timeout: float = 2.0) -> ViesRegistry:
    return ViesRegistry(base_url=server.url, timeout=timeout)


def test_a_registered_number_is_valid_and_vies_is_asked_for_it(server: ViesServer) -> None:
    """Given VIES knows FR40303265045
    When a customer's number is checked, typed with spaces and in lower case
    Then it is valid, and VIES was asked once for FR / 40303265045, as JSON."""
    server.vies.register("FR40303265045")
    assert registry(server).check("fr 403 032 650 45") == VatCheck.VALID
    (seen,) = server.vies.requests
    assert (seen.method, seen.path) == ("POST", "/check-vat-number")
    assert seen.body == {"countryCode": "FR", "vatNumber": "40303265045"}
    assert seen.headers["content-type"] == "application/json"


@pytest.mark.parametrize(("typed", "country", "national"), [
    ("EL094259216", "EL", "094259216"),  # Greece's VAT prefix, which VIES uses
    ("GR 094 259 216", "EL", "094259216"),  # its ISO code, as customers sometimes type it
    ("XI123456782", "XI", "123456782"),  # Northern Ireland
])
def test_the_member_state_goes_to_vies_by_its_vat_prefix(server: ViesServer, typed: str, country: str,
                                                         national: str) -> None:
    """Given VIES knows a Greek (or Northern Irish) number
    When it is checked
    Then it is valid, and VIES was asked with its VAT prefix (EL, not GR; XI), which VIES requires."""
    server.vies.register(country + national)
    assert registry(server).check(typed) == VatCheck.VALID
    assert server.vies.requests[-1].body == {"countryCode": country, "vatNumber": national}


def test_a_well_formed_number_vies_does_not_know_is_not_registered(server: ViesServer) -> None:
    """Given a number whose check digits are right but that no member state has registered
    When it is checked
    Then it is not registered (VAT is charged)."""
    server.vies.register("FR40303265045")
    assert registry(server).check("DE136695976") == VatCheck.NOT_REGISTERED
    assert server.vies.requests[-1].body == {"countryCode": "DE", "vatNumber": "136695976"}


@pytest.mark.parametrize(("code", "status"), [
    ("MS_UNAVAILABLE", 500), ("MS_UNAVAILABLE", 200), ("TIMEOUT", 500), ("SERVICE_UNAVAILABLE", 500),
    ("MS_MAX_CONCURRENT_REQ", 500), ("GLOBAL_MAX_CONCURRENT_REQ", 200), ("INVALID_INPUT", 400),
])
def test_vies_reporting_an_error_is_unavailable_not_a_refusal(server: ViesServer, code: str, status: int,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    """Given the member state's system is down (or VIES is busy, or disagrees on the format)
    When a registered number is checked
    Then the answer is unavailable — never "not registered" — and the next check gets VIES's real answer;
    the log tells an operator VIES's error code and the member state, not the customer's number."""
    server.vies.register("FR40303265045")
    server.vies.fail_next(code, status)
    vies = registry(server)
    with caplog.at_level(logging.WARNING, logger="functions.capture.adapters.vies"):
        assert vies.check("FR40303265045") == VatCheck.UNAVAILABLE
    assert code in caplog.text and "FR" in caplog.text and "40303265045" not in caplog.text
    assert vies.check("FR40303265045") == VatCheck.VALID


@pytest.mark.parametrize("code", ["MS_UNAVAILABLE", "TIMEOUT", "MS_MAX_CONCURRENT_REQ"])
def test_valid_false_with_a_user_error_is_unavailable(server: ViesServer, code: str) -> None:
    """Given VIES answers valid: false but says (userError) that it could not ask the member state
    When the number is checked
    Then the answer is unavailable: nothing was checked, so the number is not called unregistered."""
    server.vies.register("FR40303265045")
    server.vies.fail_next(code, 200, as_user_error=True)
    assert registry(server).check("FR40303265045") == VatCheck.UNAVAILABLE


@pytest.mark.parametrize("status", [200, 503])
def test_a_page_that_is_not_the_documented_json_is_unavailable(server: ViesServer, status: int) -> None:
    """Given VIES answers its maintenance page (HTML) instead of JSON
    When a number is checked
    Then the answer is unavailable."""
    server.vies.register("FR40303265045")
    server.vies.page_next(status)
    assert registry(server).check("FR40303265045") == VatCheck.UNAVAILABLE


def test_vies_answering_slower_than_the_timeout_is_unavailable_without_waiting_for_it(server: ViesServer) -> None:
    """Given VIES takes 10 s to answer and the registry waits 0.5 s
    When a number is checked
    Then the answer is unavailable, given before VIES's answer was even sent."""
    server.vies.register("FR40303265045")
    server.vies.stall_next(10)
    started = time.monotonic()
    assert registry(server, timeout=0.5).check("FR40303265045") == VatCheck.UNAVAILABLE
    assert len(server.vies.requests) == 1 and server.vies.answered == 0  # VIES was still stalling
    assert time.monotonic() - started < 10


def test_no_server_at_all_is_unavailable() -> None:
    """Given nothing listens where VIES should be
    When a number is checked
    Then the answer is unavailable (and nothing is raised into the capture)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends: nothing listens there
    assert ViesRegistry(base_url=f"http://127.0.0.1:{port}", timeout=1).check("FR40303265045") \
        == VatCheck.UNAVAILABLE


@pytest.mark.parametrize(("typed", "message"), [
    ("FR40303265046", "FR40303265046 has wrong check digits"),
    ("DE136695977", "wrong check digits"),
    ("US123456789", "not an EU VAT number"),
    ("GB980780684", "not an EU VAT number"),  # the UK left: only XI (Northern Ireland) is in VIES
    ("FR4030326504", "wrong length"),
    ("garbage", "not an EU VAT number"),
    ("", "not an EU VAT number"),
])
def test_a_malformed_number_is_refused_without_asking_vies(server: ViesServer, typed: str, message: str) -> None:
    """Given a number with a typo, wrong check digits or no member state's prefix
    When it is checked
    Then it is refused as invalid, saying why, and VIES is not asked."""
    with pytest.raises(InvalidVatNumber, match=message):
        registry(server).check(typed)
    assert server.vies.requests == []


def test_a_definite_answer_is_kept_an_hour_and_an_outage_is_asked_again(server: ViesServer) -> None:
    """Given VIES confirmed a number (a quote), then is asked about it again (its capture, a
    redelivered feed message)
    When it is checked within the hour
    Then VIES is not asked again; after the hour it is; an outage is never kept."""
    server.vies.register("FR40303265045")
    now = [1000.0]
    vies = ViesRegistry(base_url=server.url, timeout=2.0, clock=lambda: now[0])
    assert vies.check("FR40303265045") == VatCheck.VALID
    assert vies.check("FR 403 032 650 45") == VatCheck.VALID
    assert len(server.vies.requests) == 1
    now[0] += 3601
    assert vies.check("FR40303265045") == VatCheck.VALID
    assert len(server.vies.requests) == 2
    server.vies.fail_next("MS_UNAVAILABLE", 500)
    assert vies.check("DE136695976") == VatCheck.UNAVAILABLE
    assert vies.check("DE136695976") == VatCheck.NOT_REGISTERED
    assert len(server.vies.requests) == 4
