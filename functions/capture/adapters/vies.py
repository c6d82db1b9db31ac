"""The EU Commission's VIES, behind ``VatRegistry`` (ports.py), through its REST API.

Coded against the published contract, "Vies on-the-Web Endpoint" 1.0.0
(https://ec.europa.eu/assets/taxud/vow-information/swagger_publicVAT.yaml; the service's
"Technical information" page, https://ec.europa.eu/taxation_customs/vies/#/technical-information):

- ``POST {base}/check-vat-number`` with ``CheckVatRequest`` JSON: ``countryCode`` (the VAT prefix:
  ``EL`` for Greece, ``XI`` for Northern Ireland) and ``vatNumber`` (the rest, compacted). The
  requester fields (``requesterMemberStateCode``/``requesterNumber``, which get a consultation
  number back) and the trader fields (approximate matching) are left out: capture only needs yes/no.
- ``200`` answers ``CheckVatResponse``: ``valid`` (boolean) with ``countryCode``, ``vatNumber``,
  ``requestDate``, ``requestIdentifier``, ``name``/``address`` (``"---"`` where the member state
  does not disclose them).
- ``400``/``500`` answer ``CommonResponse``: ``{"actionSucceed": false, "errorWrappers": [{"error":
  code, "message": …}]}`` with codes such as ``INVALID_INPUT``, ``SERVICE_UNAVAILABLE``,
  ``MS_UNAVAILABLE``, ``TIMEOUT``, ``MS_MAX_CONCURRENT_REQ``, ``GLOBAL_MAX_CONCURRENT_REQ``,
  ``VAT_BLOCKED``, ``IP_BLOCKED``. The same body is also met with ``200``, and answers carrying the
  older ``userError`` field (``VALID``/``INVALID`` or one of those codes, with ``valid: false``):
  both are read here as well.

How each answer maps to :class:`~functions.capture.ports.VatCheck`, and why:

- ``valid: true`` → ``VALID``: the member state confirms the number is registered and active
  today, so an intra-Community B2B supply may be reverse charged.
- ``valid: false`` (with no error) → ``NOT_REGISTERED``: VIES asked the member state, which knows
  no active number — the only definite "no". VAT is charged.
- Anything else → ``UNAVAILABLE``, never ``NOT_REGISTERED``: an error code (``MS_UNAVAILABLE`` and
  the others: the member state's system is down, which several are routinely at night and on
  weekends, or VIES is busy), a ``userError`` other than ``VALID``/``INVALID`` (it comes with
  ``valid: false`` although nothing was checked), ``INVALID_INPUT`` (the number passed stdnum's
  checks, so this is VIES disagreeing on format, not an answer), any other HTTP status, a body
  that is not the documented JSON (a maintenance page), a timeout, a refused or reset
  connection. Telling a customer a registered number is unregistered because a foreign system
  had maintenance would be wrong; charging VAT and recording the number as unverified (the use
  case's part) is safe and can be corrected later.
- A malformed number or wrong check digits raise ``InvalidVatNumber`` before any request
  (``vat_numbers.compact_vat_id``): that is the customer's typo, not a question for VIES.

``timeout`` (default 3 s) bounds each socket operation (connecting, then waiting for the answer):
the capture request waits for this call, and VIES's own member-state timeout is far longer. This
adapter never retries — a second attempt would double the customer's wait for an answer that
changes nothing (VAT is charged either way); the order records the number as unverified instead.

Logged (a warning, for an answer that is not yes/no): the member state, the HTTP status and
VIES's error codes — never the number, a name or an address.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from functions.capture.adapters.vat_numbers import compact_vat_id
from functions.capture.ports import VatCheck

if TYPE_CHECKING:
    import urllib.request

    from functions.capture.ports import VatRegistry

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_TIMEOUT", "ViesRegistry"]

#: The REST API of VIES on-the-Web (the contract's ``/check-vat-number`` is below it).
DEFAULT_BASE_URL = "https://ec.europa.eu/taxation_customs/vies/rest-api"
#: Seconds per socket operation: the capture request waits for VIES (see the module docstring).
DEFAULT_TIMEOUT = 3.0
#: A documented answer is well under 2 KiB (a long address included); more is not one.
MAX_ANSWER_BYTES = 64 * 1024
#: The ``userError`` values that are an answer about the number (VIES's own wording).
DEFINITE_USER_ERRORS = frozenset({"VALID", "INVALID"})

log = logging.getLogger(__name__)


#: How long a container trusts a definite answer (a registration rarely changes within the hour;
#: the order records what VIES said at capture), and how many it keeps.
ANSWER_TTL_SECONDS = 3600
ANSWERS_KEPT = 10_000


class Opener(Protocol):
    """What sends the request: ``urllib.request.OpenerDirector`` (``build_opener()``) or a stand-in."""

    def open(self, fullurl: urllib.request.Request, data: bytes | None = None,
             timeout: float = ...) -> Any: ...


class ViesRegistry:
    """``VatRegistry`` on the VIES REST API (see the module docstring).

    ``base_url`` is where the API is (a local server in tests), ``timeout`` the seconds per socket
    operation, ``opener`` what sends the request (by default urllib's, built at the first check:
    building the registry reads and opens nothing)."""

    def __init__(self, base_url: str = DEFAULT_BASE_URL, timeout: float = DEFAULT_TIMEOUT,
                 opener: Opener | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        if not base_url.startswith(("https://", "http://")):
            raise ValueError("base_url must be an http(s) URL")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self._url = base_url.rstrip("/") + "/check-vat-number"
        self._timeout = timeout
        self._opener = opener
        #: definite answers (valid, not registered) by number, with when they were had: a
        #: container asks VIES once an hour per number, so a feed of one customer's orders, a
        #: quote followed by its capture, or a redelivered message waits for VIES once
        self._answers: dict[str, tuple[float, VatCheck]] = {}
        self._clock = clock

    def __repr__(self) -> str:
        return f"ViesRegistry(url={self._url!r}, timeout={self._timeout})"

    def check(self, vat_id: str) -> VatCheck:
        """What VIES answers for ``vat_id`` (prefix included, any spacing). Raises
        :class:`~functions.capture.ports.InvalidVatNumber` for a malformed number (nothing is
        sent); every failure to get a definite answer is ``UNAVAILABLE``, never an exception."""
        number = compact_vat_id(vat_id)
        known = self._answers.get(number)
        if known is not None and self._clock() - known[0] < ANSWER_TTL_SECONDS:
            return known[1]
        country, national = number[:2], number[2:]  # EL stays EL, XI stays XI: VIES's own prefixes
        status, answer = self._ask(country, national)
        verdict = _verdict(country, status, answer)
        if verdict != VatCheck.UNAVAILABLE:  # an outage is asked again next time
            if len(self._answers) >= ANSWERS_KEPT:
                self._answers.clear()
            self._answers[number] = (self._clock(), verdict)
        return verdict

    def _ask(self, country: str, national: str) -> tuple[int | None, Any]:
        """The HTTP status and the parsed JSON body (``None`` for no status or no JSON)."""
        # loaded at the first VAT number, not at capture's cold start
        import http.client
        import urllib.error
        import urllib.request

        body = json.dumps({"countryCode": country, "vatNumber": national}).encode()
        # the URL's scheme is checked (http/https only) when the registry is built
        request = urllib.request.Request(self._url, data=body, method="POST", headers={  # noqa: S310
            "Content-Type": "application/json", "Accept": "application/json"})
        if self._opener is None:
            self._opener = urllib.request.build_opener()
        status: int | None = None
        try:
            try:
                with self._opener.open(request, timeout=self._timeout) as response:
                    status = int(response.status)
                    raw = response.read(MAX_ANSWER_BYTES + 1)
            except urllib.error.HTTPError as refused:  # 4xx/5xx: the body says why (CommonResponse)
                status = refused.code
                with refused:
                    raw = refused.read(MAX_ANSWER_BYTES + 1)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            # timeout (TimeoutError), refused/reset connection and DNS (URLError), a garbled
            # status line or a body cut short (HTTPException)
            log.warning("VIES did not answer for %s: %s%s", country, type(exc).__name__,
                        f" after HTTP {status}" if status else "")
            return status, None
        if len(raw) > MAX_ANSWER_BYTES:
            return status, None
        try:
            return status, json.loads(raw)
        except ValueError:  # not JSON (a maintenance page), or not UTF-8
            return status, None


def _verdict(country: str, status: int | None, answer: Any) -> VatCheck:
    """The documented answer as a ``VatCheck`` (the mapping is the module docstring's)."""
    if not isinstance(answer, dict):
        if status is not None:
            log.warning("VIES answered HTTP %s without the documented JSON for %s", status, country)
        return VatCheck.UNAVAILABLE
    wrappers = answer.get("errorWrappers")
    errors = [str(w.get("error")) for w in wrappers if isinstance(w, dict)] if isinstance(wrappers, list) else []
    user_error = answer.get("userError")
    if status != 200 or wrappers or answer.get("actionSucceed") is False \
            or (user_error not in (None, "") and user_error not in DEFINITE_USER_ERRORS):
        log.warning("VIES could not check a number of %s: HTTP %s, %s", country, status,
                    ", ".join(errors) or user_error or "no error code")
        return VatCheck.UNAVAILABLE
    valid = answer.get("valid")
    if valid is True:
        return VatCheck.VALID
    if valid is False:
        return VatCheck.NOT_REGISTERED
    log.warning("VIES answered for %s without a valid flag", country)
    return VatCheck.UNAVAILABLE


if TYPE_CHECKING:  # the adapter satisfies the port
    _port: VatRegistry = ViesRegistry()
