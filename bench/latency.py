"""Capture latency: ``POST /orders`` through the local front door next to the bare
``TransactWriteItems`` it is built around, measured in the same run.

What is timed
-------------
- **capture**: ``POST /orders`` with the webshop key, sequential, each with a unique
  ``Idempotency-Key`` and ``channel_order_id``, timed on the client (httpx, kept-alive connection)
  from sending the request to reading the ``201``. That is the whole local path: front door
  (API Gateway), the authorizer (its result is cached, as deployed), the capture function:
  validation, pricing and the capture transaction, which carries the idempotency record.
- **transact**: the capture transaction alone — the same items the capture writes (idempotency
  record, order header, order details with its ``OrderCaptured`` entry, channel ref; each with
  its condition) — sent with a
  boto3 DynamoDB client straight to the local cloud's AWS endpoint (``GET /_local/info``). The
  items are built by the project's own code: the request body is validated with the capture
  model (``OrderIn``), priced and turned into an ``Order`` by ``CaptureService.capture`` exactly
  as the capture function does, and ``OrderTable.create`` builds the ``TransactItems``; a
  recording client catches them, and only the real client's ``transact_write_items`` is timed.

The two alternate one for one (capture, transact, capture, …) so that whatever else the machine
does hits both alike; the figures reported are ratios, which hold on a noisy shared machine
where absolute milliseconds do not. Before measuring the stack is left to go idle
(``POST /_local/settle``) and both paths are warmed up (the first capture pays the Lambda
containers' cold starts, the first raw call the client's connection).

Async work: every call starts on an idle stack, and the orders are backordered
-----------------------------------------------------------------------------
A capture is not finished when its ``201`` returns: the table stream starts the order workflow
(stream consumer, then Plan, Backorder, a notice), and on the local stack all of
that runs as threads in the same Python process as the API, competing for one interpreter. The
raw transaction writes the very same kind of order header, so it starts the same workflow too
(the stream consumer takes every new ``ORDER`` header): both sides leave the same async work
behind them. Measured back to back, that work piles up faster than the stack works it off (a
few hundred captures leave minutes of backlog on a 2-core machine), so every later call of
either kind runs on a saturated interpreter and the figures depend on how long the run is.

So by default (``isolated=True``) the stack is settled (``POST /_local/settle``) before *every*
timed call, capture or transaction alike, and the table's stream consumers (the event source
mappings) are paused for the duration of the call (``UpdateEventSourceMapping``
``Enabled=false``, then ``true``): each call starts on an idle stack and the work it leaves
behind starts only once its answer is back — which is what a capture sees on AWS, where the
stream delivers a record a little later and the workflow runs on other Lambda instances.
Without the pause a capture's own workflow would start competing for the interpreter while
the capture's answer is still on its way back through the function and the front door. The time each settle takes is
reported too (``async_tail_ms``: how long the work one call left behind kept the stack busy).
``isolated=False`` settles only once, before the first pair, and runs the pairs back to back
with the async work alongside (the saturated case); it reports ``drain_s``, how long the stack
needed afterwards to become idle.

Every order of a run uses one SKU that has no stock anywhere (``BENCH-NOSTOCK-<run>``), so each
workflow takes the shortest path (plan finds nothing, BACKORDERED, one notice): the least async
work per order, and no stock reservations or shipment requests left for a warehouse (the
lifecycle bench's simulated node) to trip over. The raw orders are real, valid orders of channel
``webshop`` (``channel_order_id`` ``BENCH-RAW-…``) that never went through the API (so they have
no idempotency record); on a local stack that is harmless.

``python -m bench.latency --url http://127.0.0.1:8080`` prints a table and the JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from typing import Any

import httpx

from functions.capture.adapters.order_table import OrderTable
from functions.capture.capturing import CaptureService, request_hash
from functions.capture.models import OrderIn
from functions.capture.ports import IdempotencyClaim
from functions.core.principal import Principal
from localcloud.client import KEYS, Api
from tests.samples import CUSTOMER, card
from tests.samples import order_body as sample_order

WEBSHOP_KEY = KEYS["webshop"]
WEBSHOP = Principal(role="channel", principal_id="webshop")  # the principal local-webshop-key resolves to


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    """p50/p95/p99 (linear interpolation between closest ranks) and the mean, rounded to 0.01 ms."""
    if not samples_ms:
        raise ValueError("no samples")
    ordered = sorted(samples_ms)

    def at(q: float) -> float:
        pos = (len(ordered) - 1) * q
        low = int(pos)
        high = min(low + 1, len(ordered) - 1)
        return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)

    return {"p50": round(at(0.50), 2), "p95": round(at(0.95), 2), "p99": round(at(0.99), 2),
            "mean": round(statistics.fmean(ordered), 2)}


def order_body(sku: str, channel_order_id: str) -> dict[str, Any]:
    """A typical webshop order: the sample order (two mugs, standard shipping to Berlin, card) of
    the bench's customer."""
    return sample_order(sku=sku, channel_order_id=channel_order_id, customer={**CUSTOMER, "customer_id": "C-BENCH"},
                        payment=card(authorization_id="auth_bench"))


class _RecordingClient:
    """Stands in for the DynamoDB client inside ``OrderTable``: keeps the transaction, sends nothing."""

    def __init__(self) -> None:
        self.transact_items: list[dict[str, Any]] = []

    def transact_write_items(self, *, TransactItems: list[dict[str, Any]]) -> dict[str, Any]:
        self.transact_items = TransactItems
        return {}


def capture_transaction(table_name: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``TransactItems`` the capture function writes for ``body`` (idempotency record,
    header, details, channel ref), built by the project's capture code and order table adapter."""
    recorder = _RecordingClient()
    claim = IdempotencyClaim(principal=WEBSHOP.principal_id, key=f"bench-raw-{uuid.uuid4()}",
                             request_hash=request_hash(body), expires_at=int(time.time()) + 3600)
    CaptureService(store=OrderTable(table_name, dynamodb_client=recorder)).capture(
        OrderIn.model_validate(body).to_command(), WEBSHOP, idempotency=claim)
    return recorder.transact_items


def stream_mappings(info: dict[str, Any]) -> tuple[Any, list[str]]:
    """A Lambda client on the local endpoint and the UUIDs of the table stream's mappings."""
    import boto3

    lam = boto3.client("lambda", endpoint_url=info["aws_endpoint_url"], region_name=info["region"],
                       aws_access_key_id="local", aws_secret_access_key="local")  # noqa: S106 - moto's dummy keys
    mappings = lam.list_event_source_mappings()["EventSourceMappings"]
    return lam, [m["UUID"] for m in mappings if ":dynamodb:" in m.get("EventSourceArn", "")]


def set_mappings(lam: Any, uuids: list[str], *, enabled: bool) -> None:
    for uuid_ in uuids:
        lam.update_event_source_mapping(UUID=uuid_, Enabled=enabled)


def dynamodb_client(info: dict[str, Any]) -> Any:
    """A boto3 DynamoDB client on the local cloud's AWS endpoint (retries and timeouts as the
    functions' own clients)."""
    import boto3
    from botocore.config import Config

    return boto3.client("dynamodb", endpoint_url=info["aws_endpoint_url"], region_name=info["region"],
                        aws_access_key_id="local", aws_secret_access_key="local",  # noqa: S106 - moto's dummy keys
                        config=Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2,
                                      read_timeout=10))


def timed_settle(api: Api, timeout: float = 300.0) -> float:
    """``api.settle``, returning how long it took (ms)."""
    started = time.perf_counter()
    api.settle(timeout)
    return (time.perf_counter() - started) * 1000


def _capture_api_calls(snapshot: dict[str, Any]) -> dict[str, int]:
    """AWS calls made by the capture API function (``oms-<env>-capture-api``), by operation."""
    calls: dict[str, int] = {}
    for caller, ops in snapshot.get("aws_calls", {}).get("by_caller", {}).items():
        if caller.endswith("-capture-api"):
            for op, n in ops.items():
                calls[op] = calls.get(op, 0) + int(n)
    return calls


def capture_latency(api_url: str, *, orders: int = 300, warmup: int = 10, isolated: bool = True) -> dict[str, Any]:
    """Time ``orders`` captures through the API and as many raw capture transactions, alternating
    (capture first in even pairs, the transaction first in odd ones).

    Returns ``{"orders", "capture_ms": {"p50", "p95", "p99", "mean"}, "transact_ms": {…},
    "capture_p99_over_transact_p99", "capture_p50_over_transact_p50"}`` plus context: the
    warm-up, ``isolated``, the SKU, ``async_tail_ms`` (isolated) or ``drain_s``, and the AWS
    calls the capture function made per capture during the measured pairs (from
    ``/_local/requests``, compared before and after; the meter is not reset).
    """
    if orders < 1:
        raise ValueError("orders must be at least 1")
    run = uuid.uuid4().hex[:8]
    sku = f"BENCH-NOSTOCK-{run}"
    with Api(api_url, timeout=30) as api:
        http: httpx.Client = api.http  # the timed capture goes out raw: no retries, no checks inside the measurement
        info = api.info()
        table, db = info["table_name"], dynamodb_client(info)
        lam, mappings = stream_mappings(info) if isolated else (None, [])
        counter = iter(range(1_000_000))

        def one_capture() -> float:
            body = order_body(sku, f"BENCH-API-{run}-{next(counter)}")
            headers = {"x-api-key": WEBSHOP_KEY, "Idempotency-Key": f"bench-{uuid.uuid4()}"}
            started = time.perf_counter()
            r = http.post("/orders", json=body, headers=headers)
            elapsed = time.perf_counter() - started
            if r.status_code != 201:
                raise RuntimeError(f"POST /orders answered {r.status_code}: {r.text}")
            return elapsed * 1000

        def one_transact() -> float:
            items = capture_transaction(table, order_body(sku, f"BENCH-RAW-{run}-{next(counter)}"))
            started = time.perf_counter()
            db.transact_write_items(TransactItems=items)
            return (time.perf_counter() - started) * 1000

        api.settle()
        for _ in range(warmup):
            one_capture()
            one_transact()
        api.settle()
        before = _capture_api_calls(api.meter())
        samples: dict[str, list[float]] = {"capture": [], "transact": []}
        tails: dict[str, list[float]] = {"capture": [], "transact": []}
        calls = {"capture": one_capture, "transact": one_transact}
        previous: str | None = None
        for i in range(orders):
            for kind in (("capture", "transact") if i % 2 == 0 else ("transact", "capture")):
                if isolated:
                    tail = timed_settle(api)
                    if previous is not None:
                        tails[previous].append(tail)
                    set_mappings(lam, mappings, enabled=False)
                try:
                    samples[kind].append(calls[kind]())
                finally:
                    if isolated:
                        set_mappings(lam, mappings, enabled=True)
                previous = kind
        after = _capture_api_calls(api.meter())
        drain_started = time.perf_counter()
        api.settle(timeout=900)
        drain_s = time.perf_counter() - drain_started
        if isolated and previous is not None:
            tails[previous].append(drain_s * 1000)
    capture, transact = percentiles(samples["capture"]), percentiles(samples["transact"])
    result: dict[str, Any] = {
        "orders": orders,
        "capture_ms": capture,
        "transact_ms": transact,
        "capture_p99_over_transact_p99": round(capture["p99"] / transact["p99"], 2),
        "capture_p50_over_transact_p50": round(capture["p50"] / transact["p50"], 2),
        "warmup": warmup,
        "isolated": isolated,
        "sku": sku,
        "capture_function_aws_calls_per_capture": {
            op: round((n - before.get(op, 0)) / orders, 2) for op, n in sorted(after.items())
            if n - before.get(op, 0) > 0},
    }
    if isolated:
        result["async_tail_ms"] = {f"after_{kind}": {k: v for k, v in percentiles(values).items() if k != "p99"}
                                   for kind, values in tails.items() if values}
    else:
        result["drain_s"] = round(drain_s, 1)
    return result


def table(result: dict[str, Any]) -> str:
    rows: list[tuple[str, ...]] = [("", "p50", "p95", "p99", "mean")]
    for label, key in (("POST /orders (API)", "capture_ms"), ("TransactWriteItems (raw)", "transact_ms")):
        rows.append((label, *(f"{result[key][q]:.1f}" for q in ("p50", "p95", "p99", "mean"))))
    rows.append(("capture / transact", f"{result['capture_p50_over_transact_p50']:.1f}x", "",
                 f"{result['capture_p99_over_transact_p99']:.1f}x", ""))
    width = max(len(r[0]) for r in rows)
    mode = "each call on an idle stack" if result["isolated"] else "back to back, async work alongside"
    lines = [f"Capture latency, {result['orders']} orders each, interleaved, ms ({mode})"]
    lines += [f"  {r[0]:<{width}} " + " ".join(f"{c:>8}" for c in r[1:]) for r in rows]
    calls = ", ".join(f"{op} {n:g}" for op, n in result["capture_function_aws_calls_per_capture"].items())
    lines.append(f"  AWS calls of the capture function per capture: {calls or 'n/a'}")
    for kind, tail in result.get("async_tail_ms", {}).items():
        lines.append(f"  async work left behind, {kind.replace('_', ' ')}: stack busy p50 {tail['p50']:.0f} ms, "
                     f"p95 {tail['p95']:.0f} ms")
    if "drain_s" in result:
        lines.append(f"  backlog left after the last pair: {result['drain_s']:.1f} s until the stack was idle")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.latency", description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="the local API (front door) base URL")
    parser.add_argument("--orders", type=int, default=300, help="measured pairs (default 300)")
    parser.add_argument("--warmup", type=int, default=10, help="unmeasured pairs first (default 10)")
    parser.add_argument("--back-to-back", action="store_true",
                        help="settle only before the first pair, not before every call (async work alongside)")
    args = parser.parse_args(argv)
    result = capture_latency(args.url, orders=args.orders, warmup=args.warmup, isolated=not args.back_to_back)
    print(table(result))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
