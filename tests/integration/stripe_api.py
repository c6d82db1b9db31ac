"""A local HTTP server that answers as Stripe's API documents it, for the Stripe adapter's tests.

Only what the OMS uses, with Stripe's shapes (https://docs.stripe.com/api):
- ``POST /v1/payment_intents/{id}/capture`` (``amount_to_capture``, ``final_capture``): a
  PaymentIntent in ``requires_capture`` is captured; with ``final_capture=false`` (multicapture,
  https://docs.stripe.com/payments/multicapture) it stays ``requires_capture`` with the rest
  capturable, otherwise it is ``succeeded`` and the remainder released. Another status is
  ``400 invalid_request_error payment_intent_unexpected_state``; more than is capturable is
  ``amount_too_large``; ``final_capture=false`` on a PaymentIntent without multicapture is refused.
- ``POST /v1/payment_intents/{id}/cancel`` (``cancellation_reason``) → ``canceled``.
- ``POST /v1/refunds`` (``payment_intent`` or ``charge``, ``amount``): a Refund object,
  partial, up to what was captured and not yet refunded (``amount_too_large`` beyond,
  ``charge_already_refunded`` once all is refunded).
- ``Authorization: Bearer <key>``; another key → ``401`` (Stripe quotes part of the key).
- Idempotency (https://docs.stripe.com/api/idempotent_requests): the status and body of the
  first request with an ``Idempotency-Key`` are saved once the endpoint began executing and
  replayed to a retry with the same parameters (``Idempotent-Replayed: true``); the same key
  with other parameters → ``400 idempotency_error``.
- Injected failures answer before the endpoint executes, so nothing is saved under the key (a
  ``429`` rate limit, or a ``5xx`` from Stripe's edge), as a real outage would.
- A PaymentIntent created with ``decline`` answers a capture ``402 card_error`` with that
  ``decline_code``.

Not a mock of the adapter: it knows nothing of the OMS, only Stripe's wire format.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count
from typing import Any


@dataclass
class Intent:
    id: str
    amount: int
    currency: str
    multicapture: bool = False
    decline: str | None = None
    status: str = "requires_capture"
    amount_capturable: int = 0
    amount_received: int = 0
    amount_refunded: int = 0
    latest_charge: str | None = None
    cancellation_reason: str | None = None

    def body(self) -> dict[str, Any]:
        return {"id": self.id, "object": "payment_intent", "amount": self.amount,
                "amount_capturable": self.amount_capturable, "amount_received": self.amount_received,
                "capture_method": "manual", "currency": self.currency, "status": self.status,
                "latest_charge": self.latest_charge, "cancellation_reason": self.cancellation_reason,
                "livemode": False, "metadata": {},
                "payment_method_options": {"card": {"request_multicapture": "if_available"}},
                "payment_method_types": ["card"]}


@dataclass
class Seen:
    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]


class StripeError(Exception):
    def __init__(self, status: int, kind: str, message: str, code: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.error: dict[str, Any] = {"type": kind, "message": message, **({"code": code} if code else {}), **extra}


@dataclass
class FakeStripe:
    api_key: str = "sk_test_local_0123456789"
    intents: dict[str, Intent] = field(default_factory=dict)
    requests: list[Seen] = field(default_factory=list)
    #: (status, error body) answered to the next requests, before any endpoint runs
    faults: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    saved: dict[tuple[str, str], tuple[str, dict[str, str], int, dict[str, Any]]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    ids: Any = field(default_factory=lambda: count(1))

    def intent(self, amount: int, currency: str = "eur", **kwargs: Any) -> Intent:
        intent = Intent(id=f"pi_test_{next(self.ids):06d}", amount=amount, currency=currency,
                        amount_capturable=amount, **kwargs)
        self.intents[intent.id] = intent
        return intent

    def fail_next(self, status: int, times: int = 1) -> None:
        if status == 429:
            error = {"type": "invalid_request_error", "code": "rate_limit",
                     "message": "Too many requests hit the API too quickly."}
        else:
            error = {"type": "api_error", "message": "An unknown error occurred"}
        self.faults.extend([(status, {"error": error})] * times)

    # -- one request -----------------------------------------------------------------------
    def handle(self, method: str, path: str, headers: dict[str, str], params: dict[str, str]
               ) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self.lock:
            self.requests.append(Seen(method, path, params, headers))
            if self.faults:
                status, body = self.faults.pop(0)
                return status, body, {}
            if headers.get("authorization") != f"Bearer {self.api_key}":
                given = headers.get("authorization", "").removeprefix("Bearer ")
                return 401, {"error": {"type": "invalid_request_error",
                                       "message": f"Invalid API Key provided: {given[:8]}****{given[-4:]}"}}, {}
            key = headers.get("idempotency-key")
            if key and (headers["authorization"], key) in self.saved:
                first_path, first_params, status, body = self.saved[(headers["authorization"], key)]
                if (first_path, first_params) != (path, params):
                    return 400, {"error": {"type": "idempotency_error", "message": (
                        "Keys for idempotent requests can only be used with the same parameters they were "
                        f"first used with. Try using a key other than '{key}' if you meant to execute a "
                        "different request.")}}, {}
                return status, body, {"Idempotent-Replayed": "true"}
            try:
                status, body = 200, self._route(method, path, params)
            except StripeError as exc:
                status, body = exc.status, {"error": exc.error}
            if key:
                self.saved[(headers["authorization"], key)] = (path, params, status, body)
            return status, body, {}

    def _route(self, method: str, path: str, params: dict[str, str]) -> dict[str, Any]:
        parts = path.strip("/").split("/")
        if method == "POST" and parts[:2] == ["v1", "payment_intents"] and len(parts) == 4:
            intent = self.intents.get(parts[2])
            if intent is None:
                raise StripeError(404, "invalid_request_error", f"No such payment_intent: '{parts[2]}'",
                                  "resource_missing", param="intent")
            if parts[3] == "capture":
                return self._capture(intent, params)
            if parts[3] == "cancel":
                return self._cancel(intent, params)
        if method == "POST" and parts == ["v1", "refunds"]:
            return self._refund(params)
        raise StripeError(404, "invalid_request_error", f"Unrecognized request URL ({method}: {path}).")

    def _capture(self, intent: Intent, params: dict[str, str]) -> dict[str, Any]:
        if intent.status != "requires_capture":
            raise StripeError(400, "invalid_request_error",
                              f"This PaymentIntent could not be captured because it has a status of {intent.status}. "
                              "Only a PaymentIntent with one of the following statuses may be captured: "
                              "requires_capture.", "payment_intent_unexpected_state",
                              payment_intent=intent.body())
        amount = int(params.get("amount_to_capture", intent.amount_capturable))
        final = params.get("final_capture", "true") != "false"
        if not final and not intent.multicapture:
            raise StripeError(400, "invalid_request_error",
                              "Multicapture is not available for this PaymentIntent.", param="final_capture")
        if amount > intent.amount_capturable:
            raise StripeError(400, "invalid_request_error",
                              f"The amount_to_capture ({amount}) is greater than the amount capturable "
                              f"({intent.amount_capturable}).", "amount_too_large", param="amount_to_capture")
        if intent.decline:
            raise StripeError(402, "card_error", "Your card was declined.", "card_declined",
                              decline_code=intent.decline, payment_intent=intent.body())
        intent.amount_received += amount
        intent.latest_charge = intent.latest_charge or f"ch_test_{next(self.ids):06d}"
        if final:
            intent.amount_capturable, intent.status = 0, "succeeded"
        else:
            intent.amount_capturable -= amount
        return intent.body()

    def _cancel(self, intent: Intent, params: dict[str, str]) -> dict[str, Any]:
        if intent.status not in ("requires_payment_method", "requires_capture", "requires_confirmation",
                                 "requires_action"):
            raise StripeError(400, "invalid_request_error",
                              f"You cannot cancel this PaymentIntent because it has a status of {intent.status}. "
                              "Only a PaymentIntent with one of the following statuses may be canceled: "
                              "requires_payment_method, requires_capture, requires_confirmation, requires_action, "
                              "processing.", "payment_intent_unexpected_state", payment_intent=intent.body())
        intent.status, intent.amount_capturable = "canceled", 0
        intent.cancellation_reason = params.get("cancellation_reason")
        return intent.body()

    def _refund(self, params: dict[str, str]) -> dict[str, Any]:
        intent = self.intents.get(params.get("payment_intent", "")) or next(
            (i for i in self.intents.values() if i.latest_charge and i.latest_charge == params.get("charge")), None)
        if intent is None:
            raise StripeError(404, "invalid_request_error", "No such charge or payment_intent", "resource_missing")
        if intent.amount_received == 0:
            raise StripeError(400, "invalid_request_error", f"PaymentIntent {intent.id} has no successful charge "
                              "to refund.", "charge_not_refundable")
        left = intent.amount_received - intent.amount_refunded
        if left == 0:
            raise StripeError(400, "invalid_request_error", f"Charge {intent.latest_charge} has already been "
                              "refunded.", "charge_already_refunded")
        amount = int(params.get("amount", left))
        if amount > left:
            raise StripeError(400, "invalid_request_error", f"Refund amount ({amount}) is greater than unrefunded "
                              f"amount on charge ({left})", "amount_too_large", param="amount")
        intent.amount_refunded += amount
        refund: dict[str, Any] = {"id": f"re_test_{next(self.ids):06d}", "object": "refund", "amount": amount,
                  "charge": intent.latest_charge, "currency": intent.currency, "payment_intent": intent.id,
                  "status": "succeeded", "reason": params.get("reason"), "metadata": {}, "created": 1764633600}
        self.refunds[refund["id"]] = refund
        return refund


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        params = dict(urllib.parse.parse_qsl(raw, keep_blank_values=True))
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, body, extra = self.server.stripe.handle("POST", self.path, headers, params)
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Request-Id", f"req_test_{len(self.server.stripe.requests)}")
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    stripe: FakeStripe


class StripeServer:
    """``with StripeServer() as (url, stripe): ...`` — the server on a free port of 127.0.0.1."""

    def __init__(self) -> None:
        self.stripe = FakeStripe()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.stripe = self.stripe
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> StripeServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
