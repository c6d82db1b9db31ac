"""The one HTTP client of the local OMS (``make up``), for the demo and the bench.

``Api`` speaks the public API as the seeded channels, nodes and agent do (``KEYS``, the local
stack's API keys), and the local stack's own routes (``/_local/settle``, ``/_local/outbox``,
``/_local/requests``, ``/_local/info``). Its ``http`` is the underlying ``httpx.Client``, for a
raw call (a timed request, a status code asserted as such).

Every call it makes may be repeated safely (stock is set, not added; an order carries its
Idempotency-Key; a dispatch repeats its tracking number; cancelling twice is harmless), so a 5xx,
a transport error, an "in flight" 409 or an answer about another resource is retried a few times,
and counted in ``retried``. A call that still fails raises ``ApiError`` (with the problem's detail)
where the method returns data; ``cancel`` and ``dispatch`` return the response, whose 409 or 404
is an answer, not a failure.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx

#: The API keys the local stack seeds (localcloud/seed.py), by who uses them.
KEYS = {
    "webshop": "local-webshop-key", "marketplace": "local-marketplace-key", "dc": "local-dc-key",
    "store": "local-store-key", "agent": "local-agent-key", "finance": "local-finance-key",
}
#: The seeded fulfilment nodes and the key each works its requests with.
NODE_KEYS = {"DC-BERLIN": KEYS["dc"], "STORE-MUNICH": KEYS["store"]}


class ApiError(RuntimeError):
    pass


def ok(r: httpx.Response, what: str) -> Any:
    """The JSON body of a 2xx answer; else ``ApiError`` naming ``what`` failed and the problem's detail."""
    if r.is_success:
        return r.json()
    try:
        problem = r.json()
        detail = problem.get("detail") or problem.get("title")
        if problem.get("errors"):
            detail = f"{detail} {problem['errors']}"
    except ValueError:
        detail = r.text[:200]
    raise ApiError(f"{what}: {r.status_code} {detail}")


class Api:
    """The local OMS over HTTP; one ``httpx.Client``, safe to share between threads."""

    RETRIES = 3

    def __init__(self, base_url: str, *, timeout: float = 30.0, connections: int = 8) -> None:
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        self.http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout, limits=limits)
        self.retried: Counter[str] = Counter()  # "GET /orders/{id}: 502" -> times
        self._lock = threading.Lock()

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def _h(key: str) -> dict[str, str]:
        return {"x-api-key": key}

    def _send(self, method: str, url: str, route: str, expect: Callable[[Any], bool] | None = None,
              **kwargs: Any) -> httpx.Response:
        """Send, retrying 5xx, transport errors, "in flight" and answers about another resource (``expect``
        says whether a 2xx body is about the one asked for)."""
        for attempt in range(self.RETRIES + 1):
            last = attempt == self.RETRIES
            try:
                r = self.http.request(method, url, **kwargs)
            except httpx.TransportError as e:
                if last:
                    raise
                problem = type(e).__name__
            else:
                if r.status_code >= 500:
                    problem = str(r.status_code)
                elif r.status_code == 409 and "in flight" in r.text.lower():  # the same key, still running
                    problem = "409 in flight"
                elif r.is_success and expect is not None and not expect(r.json()):
                    problem = "answered about another resource"
                else:
                    return r
                if last:
                    return r
            with self._lock:
                self.retried[f"{method} {route}: {problem}"] += 1
            time.sleep(0.5 * 2**attempt)
        raise AssertionError("unreachable")

    # ----------------------------------------------------------------------------------- the public API

    def get(self, path: str, key: str, route: str | None = None, **params: Any) -> Any:
        """Any GET of the API as ``key``, retried as every call here is; the JSON body, else ``ApiError``."""
        return ok(self._send("GET", path, route or path, params=params, headers=self._h(key)), f"GET {path}")

    def put_stock(self, sku: str, node: str, on_hand: int) -> None:
        r = self._send("PUT", f"/inventory/{sku}/nodes/{node}", "/inventory/{sku}/nodes/{node_id}",
                       expect=lambda b: (b.get("sku"), b.get("node_id"), b.get("on_hand")) == (sku, node, on_hand),
                       json={"on_hand": on_hand}, headers=self._h(KEYS["agent"]))
        ok(r, f"set stock of {sku} in {node}")

    def stock(self, sku: str) -> dict[str, int]:
        r = self._send("GET", f"/inventory/{sku}", "/inventory/{sku}", expect=lambda b: b.get("sku") == sku,
                       headers=self._h(KEYS["agent"]))
        return {n["node_id"]: n["on_hand"] for n in ok(r, f"read stock of {sku}")["nodes"]}

    def quote(self, body: dict[str, Any], key: str) -> dict[str, Any]:
        return dict(ok(self._send("POST", "/orders/quote", "/orders/quote", json=body, headers=self._h(key)), "quote"))

    def place(self, body: dict[str, Any], key: str, idempotency_key: str) -> dict[str, Any]:
        ours = body["channel_order_id"]
        r = self._send("POST", "/orders", "/orders", expect=lambda b: b.get("channel_order_id") == ours,
                       json=body, headers={**self._h(key), "Idempotency-Key": idempotency_key})
        order = dict(ok(r, "place order"))
        if order.get("channel_order_id") != ours:
            raise ApiError(f"place order {ours}: the stack kept answering with order {order.get('channel_order_id')}")
        return order

    def cancel(self, order_id: str, key: str) -> httpx.Response:
        return self._send("POST", f"/orders/{order_id}/cancel", "/orders/{id}/cancel",
                          expect=lambda b: b.get("order_id") == order_id, json={"reason": "CUSTOMER"},
                          headers=self._h(key))

    def ask_return(self, order_id: str, body: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        """``POST /orders/{id}/returns`` as an agent (a repeat with the key answers the same return)."""
        r = self._send("POST", f"/orders/{order_id}/returns", "/orders/{id}/returns",
                       expect=lambda b: b.get("order_id") == order_id, json=body,
                       headers={**self._h(KEYS["agent"]), "Idempotency-Key": idempotency_key})
        return dict(ok(r, f"return of order {order_id}"))

    def receive(self, ret: dict[str, Any], receipt_id: str, lines: list[dict[str, Any]]) -> dict[str, Any]:
        """``POST /returns/{id}/receive`` as the node the return is sent to."""
        return_id, node = ret["return_id"], ret["return_to"]["node_id"]
        r = self._send("POST", f"/returns/{return_id}/receive", "/returns/{id}/receive",
                       expect=lambda b: b.get("return_id") == return_id,
                       json={"receipt_id": receipt_id, "lines": lines}, headers=self._h(NODE_KEYS[node]))
        return dict(ok(r, f"receive return {return_id}"))

    def returned(self, return_id: str) -> dict[str, Any]:
        return dict(ok(self._send("GET", f"/returns/{return_id}", "/returns/{id}",
                                  expect=lambda b: b.get("return_id") == return_id,
                                  headers=self._h(KEYS["agent"])), f"read return {return_id}"))

    def order(self, order_id: str) -> dict[str, Any]:
        r = self._send("GET", f"/orders/{order_id}", "/orders/{id}", expect=lambda b: b.get("order_id") == order_id,
                       headers=self._h(KEYS["agent"]))
        view = dict(ok(r, f"read order {order_id}"))
        if view.get("order_id") != order_id:
            raise ApiError(f"read order {order_id}: the stack kept answering about {view.get('order_id')}")
        return view

    def shipments(self, key: str, *, status: str = "REQUESTED", limit: int = 100,
                  next_token: str | None = None) -> dict[str, Any]:
        """One page of the node's shipments: ``{"shipments": […], "next_token": …}``."""
        params: dict[str, Any] = {"status": status, "limit": limit}
        if next_token:
            params["next_token"] = next_token
        return dict(ok(self._send("GET", "/shipments", "/shipments", params=params, headers=self._h(key)),
                       "list shipments"))

    def requested(self, key: str) -> list[dict[str, Any]]:
        """Every shipment the node (by its key) has been asked to ship, all pages."""
        found: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            page = self.shipments(key, next_token=token)
            found += page["shipments"]
            token = page.get("next_token")
            if not token:
                return found

    def dispatch(self, shipment_id: str, key: str, tracking: str) -> httpx.Response:
        body = {"carrier": "DHL", "tracking_number": tracking}
        return self._send("POST", f"/shipments/{shipment_id}/dispatch", "/shipments/{id}/dispatch",
                          expect=lambda b: b.get("shipment_id") == shipment_id, json=body, headers=self._h(key))

    # ----------------------------------------------------------------------------------- the local stack's routes

    def wait_idle(self, timeout: float) -> bool | None:
        """``POST /_local/settle``: True once the stack is idle, False if still busy after ``timeout``,
        None if this stack has no such route."""
        try:
            r = self.http.post("/_local/settle", params={"timeout": timeout}, timeout=timeout + 15)
        except httpx.TimeoutException:
            return False
        if r.status_code in (404, 405):
            return None
        return r.status_code == 200 and bool(r.json().get("idle"))

    def settle(self, timeout: float = 300.0) -> None:
        """Wait until the stack is idle (``POST /_local/settle``); ``ApiError`` naming what is still busy
        after ``timeout`` seconds."""
        r = self.http.post("/_local/settle", params={"timeout": timeout}, timeout=timeout + 30)
        if r.status_code != 200:
            raise ApiError(f"local stack did not go idle: {r.text}")

    def outbox(self) -> dict[str, Any]:
        return dict(ok(self._send("GET", "/_local/outbox", "/_local/outbox"), "read the outbox"))

    def info(self) -> dict[str, Any]:
        """``GET /_local/info``: the stack's table name, AWS endpoint, region, …"""
        return dict(ok(self._send("GET", "/_local/info", "/_local/info"), "read the stack's info"))

    def meter(self) -> dict[str, Any]:
        """``GET /_local/requests``: what the stack asked of AWS since the last reset (localcloud/meter.py)."""
        return dict(ok(self._send("GET", "/_local/requests", "/_local/requests"), "read the meter"))

    def reset_meter(self) -> None:
        ok(self.http.post("/_local/requests/reset"), "reset the meter")
