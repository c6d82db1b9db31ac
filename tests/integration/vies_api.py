"""A local HTTP server that answers as VIES's REST API documents it, for the VIES adapter's tests.

Only what the OMS uses, with the shapes of "Vies on-the-Web Endpoint" 1.0.0
(https://ec.europa.eu/assets/taxud/vow-information/swagger_publicVAT.yaml):
- ``POST /check-vat-number`` with ``CheckVatRequest`` JSON (``countryCode``, ``vatNumber``): a
  registered number answers ``200`` ``CheckVatResponse`` with ``valid: true``, its name and address;
  any other ``valid: false`` with ``"---"`` for them.
- A body that is not such JSON, or a ``countryCode`` VIES does not know (Greece is ``EL``, so
  ``GR`` is refused, as VIES does), answers ``400`` ``CommonResponse``
  (``{"actionSucceed": false, "errorWrappers": [{"error": "INVALID_INPUT", …}]}``).
- Injected faults, each for the next request: ``fail_next`` answers ``CommonResponse`` with an
  error code (``MS_UNAVAILABLE``, ``TIMEOUT``, …) and a status (``500`` as documented, or ``200``
  as also met); ``fail_next(..., as_user_error=True)`` answers the older shape, ``valid: false``
  with ``userError`` set to the code; ``page_next`` a non-JSON maintenance page; ``stall_next``
  waits before answering (longer than the client's timeout), until then or the server stops.
- Every request received is recorded (``requests``), and every answer sent (``answered``).

Not a mock of the adapter: it knows nothing of the OMS, only VIES's wire format.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: The country codes VIES accepts in ``countryCode`` (the VAT prefixes: Greece ``EL``, Northern Ireland ``XI``).
COUNTRY_CODES = frozenset({
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "EL", "ES", "FI", "FR", "HR", "HU", "IE", "IT", "LT", "LU",
    "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK", "XI",
})
REQUEST_DATE = "2026-05-04T09:30:00.000Z"
#: VIES's own wording for the codes these tests use.
MESSAGES = {
    "INVALID_INPUT": "The provided CountryCode is invalid or the VAT number is empty",
    "MS_UNAVAILABLE": "The application at the Member State is not replying or not available.",
    "TIMEOUT": "The application did not receive a reply within the allocated time period.",
    "SERVICE_UNAVAILABLE": "An error was encountered either at the network level or the Web application level.",
    "MS_MAX_CONCURRENT_REQ": "Your Request for VAT validation has not been processed; the maximum number of "
                             "concurrent requests for this Member State has been reached.",
    "GLOBAL_MAX_CONCURRENT_REQ": "Your Request for VAT validation has not been processed; the maximum number of "
                                 "concurrent requests has been reached.",
}
MAINTENANCE_PAGE = b"<html><body><h1>VIES is under maintenance</h1></body></html>"


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    #: The JSON body, or None when it was not JSON.
    body: Any


@dataclass
class Trader:
    name: str
    address: str


@dataclass
class Fault:
    status: int
    content_type: str
    payload: bytes
    stall: float = 0.0


def _common_response(code: str) -> bytes:
    return json.dumps({"actionSucceed": False, "errorWrappers": [
        {"error": code, "message": MESSAGES.get(code, code)}]}).encode()


@dataclass
class FakeVies:
    #: Registered numbers, by their full number with prefix (``FR40303265045``).
    registered: dict[str, Trader] = field(default_factory=dict)
    requests: list[Seen] = field(default_factory=list)
    #: How many answers were sent (a stalled request counts once its answer is sent).
    answered: int = 0
    faults: list[Fault] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: Set when the server stops: a stalled request gives up waiting.
    stopping: threading.Event = field(default_factory=threading.Event)

    def register(self, number: str, name: str = "ACME SAS", address: str = "1 RUE DE LA PAIX\n75002 PARIS") -> None:
        self.registered[number] = Trader(name, address)

    def fail_next(self, code: str = "MS_UNAVAILABLE", status: int = 500, *, as_user_error: bool = False) -> None:
        if as_user_error:
            payload = json.dumps({"valid": False, "userError": code, "requestDate": REQUEST_DATE,
                                  "name": "---", "address": "---"}).encode()
        else:
            payload = _common_response(code)
        self.faults.append(Fault(status, "application/json", payload))

    def page_next(self, status: int = 200) -> None:
        self.faults.append(Fault(status, "text/html", MAINTENANCE_PAGE))

    def stall_next(self, seconds: float) -> None:
        """The next request is answered (as usual) only after ``seconds``."""
        self.faults.append(Fault(0, "", b"", stall=seconds))

    # -- one request -----------------------------------------------------------------------
    def handle(self, method: str, path: str, headers: dict[str, str], raw: bytes
               ) -> tuple[float, int, str, bytes]:
        """(seconds to stall first, status, content type, body) of the answer."""
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = None
        with self.lock:
            self.requests.append(Seen(method, path, headers, body))
            fault = self.faults.pop(0) if self.faults else None
        if fault is not None and not fault.stall:
            return 0.0, fault.status, fault.content_type, fault.payload
        status, answer = self._route(method, path, body)
        return (fault.stall if fault else 0.0), status, "application/json", answer

    def _route(self, method: str, path: str, body: Any) -> tuple[int, bytes]:
        if (method, path) != ("POST", "/check-vat-number"):
            return 404, json.dumps({"actionSucceed": False, "errorWrappers": [
                {"error": "NOT_FOUND", "message": f"No endpoint {method} {path}"}]}).encode()
        if not isinstance(body, dict) or not isinstance(body.get("vatNumber"), str) or not body["vatNumber"] \
                or body.get("countryCode") not in COUNTRY_CODES:
            return 400, _common_response("INVALID_INPUT")
        country, number = body["countryCode"], body["vatNumber"]
        trader = self.registered.get(country + number)
        answer = {"countryCode": country, "vatNumber": number, "requestDate": REQUEST_DATE,
                  "valid": trader is not None, "requestIdentifier": "",
                  "name": trader.name if trader else "---", "address": trader.address if trader else "---",
                  "traderName": "---", "traderStreet": "---", "traderPostalCode": "---", "traderCity": "---",
                  "traderCompanyType": "---", "traderNameMatch": "NOT_PROCESSED",
                  "traderStreetMatch": "NOT_PROCESSED", "traderPostalCodeMatch": "NOT_PROCESSED",
                  "traderCityMatch": "NOT_PROCESSED", "traderCompanyTypeMatch": "NOT_PROCESSED"}
        return 200, json.dumps(answer).encode()


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        vies = self.server.vies
        stall, status, content_type, payload = vies.handle(self.command, self.path, headers, raw)
        if stall:
            vies.stopping.wait(stall)
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except OSError:  # the client gave up waiting (its timeout) and closed the connection
            return
        finally:
            with vies.lock:
                vies.answered += 1

    do_POST = do_GET = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    vies: FakeVies

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up mid-answer is what the stall tests do


class ViesServer:
    """``with ViesServer() as server: server.url, server.vies`` — the server on a free port of 127.0.0.1."""

    def __init__(self) -> None:
        self.vies = FakeVies()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.vies = self.vies
        # a short poll: shutdown() waits for the loop to notice, once per test
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> ViesServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.vies.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
