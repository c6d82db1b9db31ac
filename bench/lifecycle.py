"""Lifecycle throughput: orders carried from capture to ``COMPLETED`` on the local stack, with a
simulated warehouse dispatching, at a few client concurrency levels.

How a level runs
----------------
- Stock first: one SKU per run (``BENCH-LC-<run>``) gets plenty of stock at ``DC-BERLIN``
  (agent key, ``PUT /inventory/{sku}/nodes/DC-BERLIN``), so every order allocates there.
- ``c`` client threads (webshop key to place, agent key to read) each place
  ``orders_per_client`` orders one after another, closed loop: place an order, poll
  ``GET /orders/{id}`` every ``poll_s`` (~50 ms) until it is ``COMPLETED``, then place the next.
  So ``c`` is the number of orders in flight.
- One simulated warehouse thread (``DC-BERLIN``'s key) loops ``GET /shipments?status=REQUESTED``
  (all pages) and confirms each of this level's shipments with ``POST /shipments/{id}/dispatch``;
  it waits ``poll_s`` when a round found nothing to do. Shipments of other orders (other tests on
  a shared stack) are left alone.
- The level ends when all its orders are ``COMPLETED``, or failed, or timed out (an order not
  completed within ``order_timeout_s`` is given up and reported in ``timeouts``; nothing hangs).
- ``orders_per_s`` = completed orders / wall time from the level's first ``POST /orders`` to its
  last ``COMPLETED`` seen. ``lifecycle_orders_per_s`` is the 1-client figure (one order at a
  time: the lifecycle's own speed, not a saturation figure); ``lifecycle_scaling_<c>_over_1``
  relates the others to it. On the local stack more clients buy little: every function, the
  moto server, the Step Functions interpreter and the stream pollers are threads of one Python
  process, so together they get at most about one core (one interpreter lock), and the local
  Lambda runtime gives each function one execution environment, so a function's invocations
  (every client's captures and polls in the capture API function) queue behind each other. If
  one order in flight already keeps the process busy, the ratio stays near 1 (and the extra
  polling of more clients can push it below 1); on AWS neither limit exists.
- ``table_items_at_start``: what the stack held. A query reads only its partition on the local
  stack too (localcloud/patches/dynamodb_partitions.py), so the figure should not depend on it;
  bench/local_scale.py measures how little it does.
- Per-order latencies from the client side: ``captured_to_in_fulfillment_ms`` (``201`` of the
  capture until the first poll that sees ``IN_FULFILLMENT`` or later) and
  ``dispatched_to_completed_ms`` (the warehouse's ``200`` on dispatch until the first poll that
  sees ``COMPLETED``), p50/p95; they are quantised by the poll interval. The same steps as the
  server wrote them, from the completed orders' timelines (``timeline_steps_ms``), have no
  polling in them.

Where the time goes
-------------------
From the Lambda runtime's records (``/_local/requests``: invocations and billed milliseconds
per function): the meter is reset before the 1-client level (or the first level) and read after
it, once the stack is idle again (trailing notices included). Per function: invocations per
order, ms per order and share of all functions' ms, sorted. Billed ms is each invocation's wall
time in this one process, so it includes waiting for the interpreter while other threads run;
under load it measures contention as much as work. The bench's own polling is API traffic too
(``GET /orders/{id}`` runs in the capture API function, ``GET /shipments`` in the node API
function): a short calibration right after the metered level (a few of each poll on the idle
stack, meter reset around it) finds which functions a poll invokes, and each function's ms is
split by the polls' share of its invocations: ``bench_polling_ms_per_order`` per function and
``bench_polling_share`` overall (it errs high: a poll is cheaper than a capture or a dispatch).

``python -m bench.lifecycle --url http://127.0.0.1:8080`` prints a table and the JSON.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from bench.latency import dynamodb_client, order_body, percentiles
from localcloud.client import KEYS, Api

NODE = "DC-BERLIN"
IN_FULFILLMENT_OR_LATER = frozenset({"IN_FULFILLMENT", "PARTIALLY_SHIPPED", "SHIPPED", "COMPLETED"})
FINAL_OTHER = frozenset({"CANCELLED"})
#: Timeline milestones of a happy-path order, in order; ``timeline_steps_ms`` times each step.
MILESTONES = ("OrderCaptured", "OrderAllocated", "ShipmentRequested", "ShipmentDispatched",
              "InvoiceIssued", "PaymentCaptured", "OrderCompleted")
#: What each function does in the lifecycle (by name without the ``oms-<env>-`` prefix).
STEPS = {
    "access-authorizer": "API: authorizer (result cached)",
    "capture-api": "API: POST /orders (+ GET /orders/{id} polls)",
    "capture-stream": "table stream: start order workflow, OrderCaptured",
    "route-plan": "order workflow: Plan",
    "allocate-reserve": "order workflow: Reserve (stock + shipments REQUESTED)",
    "notify-notice": "order workflow: notices",
    "route-api": "API: GET /shipments polls + POST dispatch",
    "invoice-stream": "table stream: start shipment invoicing",
    "invoice-shipment": "invoicing workflow: InvoiceShipment (invoice, payment, COMPLETED)",
    "notify-stream": "table stream: dispatch/completion notices",
}


@dataclass
class OrderRun:
    client: int
    posted_at: float = 0.0
    order_id: str | None = None
    captured_at: float | None = None
    in_fulfillment_at: float | None = None
    completed_at: float | None = None
    status: str | None = None
    timeline: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    timed_out: bool = False


class Warehouse(threading.Thread):
    """``DC-BERLIN`` working its fulfilment requests: dispatch every requested shipment of the
    orders in ``wanted``, record when each dispatch was confirmed."""

    def __init__(self, api_url: str, poll_s: float) -> None:
        super().__init__(name="bench-warehouse", daemon=True)
        self.api_url, self.poll_s = api_url, poll_s
        self.wanted: set[str] = set()
        self.dispatched_at: dict[str, float] = {}  # order id -> last dispatch confirmed
        self.errors: list[str] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self._done: set[str] = set()

    def want(self, order_id: str) -> None:
        with self.lock:
            self.wanted.add(order_id)

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=30)

    def run(self) -> None:
        dc = KEYS["dc"]
        with Api(self.api_url, timeout=30) as api:
            while not self.stopping.is_set():
                worked = False
                try:
                    for shipment in api.requested(dc):
                        with self.lock:
                            ours = shipment["order_id"] in self.wanted
                        if not ours or shipment["shipment_id"] in self._done:
                            continue
                        r = api.dispatch(shipment["shipment_id"], dc, f"BENCH{uuid.uuid4().hex[:12]}")
                        worked = True
                        if r.status_code == 200:
                            self._done.add(shipment["shipment_id"])
                            with self.lock:
                                self.dispatched_at[shipment["order_id"]] = time.perf_counter()
                        else:
                            self.errors.append(f"dispatch {shipment['shipment_id']}: {r.status_code} {r.text[:200]}")
                except (httpx.HTTPError, RuntimeError) as exc:
                    self.errors.append(str(exc))
                if not worked:
                    self.stopping.wait(self.poll_s)


def _client(api_url: str, level: str, index: int, sku: str, run: str, count: int, warehouse: Warehouse,
            poll_s: float, order_timeout_s: float, level_deadline: float, out: list[OrderRun]) -> None:
    with httpx.Client(base_url=api_url, timeout=30) as http:
        for k in range(count):
            order = OrderRun(client=index)
            out.append(order)
            if time.perf_counter() > level_deadline:
                order.timed_out, order.error = True, "level deadline passed before it was placed"
                continue
            body = order_body(sku, f"BENCH-LC-{run}-{level}-{index}-{k}")
            body["lines"][0]["quantity"] = 1
            body["payment"]["amount"] = "99.00"
            order.posted_at = time.perf_counter()
            try:
                r = http.post("/orders", json=body, headers={"x-api-key": KEYS["webshop"],
                                                             "Idempotency-Key": f"bench-{uuid.uuid4()}"})
            except httpx.HTTPError as exc:
                order.error = f"POST /orders: {exc}"
                continue
            order.captured_at = time.perf_counter()
            if r.status_code != 201:
                order.error = f"POST /orders answered {r.status_code}: {r.text[:200]}"
                continue
            order.order_id = r.json()["order_id"]
            warehouse.want(order.order_id)
            give_up = min(order.captured_at + order_timeout_s, level_deadline)
            while True:
                try:
                    seen = http.get(f"/orders/{order.order_id}", headers={"x-api-key": KEYS["agent"]})
                except httpx.HTTPError as exc:
                    order.error = f"GET /orders/{{id}}: {exc}"
                    seen = None
                now = time.perf_counter()
                if seen is not None and seen.status_code == 200:
                    current = seen.json()
                    order.status = current["status"]
                    if order.status in IN_FULFILLMENT_OR_LATER and order.in_fulfillment_at is None:
                        order.in_fulfillment_at = now
                    if order.status == "COMPLETED":
                        order.completed_at, order.timeline = now, current.get("timeline", [])
                        break
                    if order.status in FINAL_OTHER:
                        order.error = f"order ended {order.status}"
                        break
                if now > give_up:
                    order.timed_out = True
                    order.error = f"not COMPLETED within {order_timeout_s:g} s (last seen {order.status})"
                    break
                time.sleep(poll_s)


def _at(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def timeline_steps(orders: list[OrderRun]) -> dict[str, dict[str, float]]:
    """Per step between consecutive milestones: p50/p95 ms across the completed orders."""
    steps: dict[str, list[float]] = {}
    for order in orders:
        first: dict[str, float] = {}
        for entry in order.timeline:
            if entry.get("event") in MILESTONES and entry["event"] not in first:
                first[entry["event"]] = _at(entry["at"])
        present = [m for m in MILESTONES if m in first]
        for a, b in itertools.pairwise(present):
            steps.setdefault(f"{a} -> {b}", []).append((first[b] - first[a]) * 1000)
    return {name: _p50_p95(values) for name, values in steps.items()}


def _p50_p95(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    p = percentiles(values)
    return {"p50": p["p50"], "p95": p["p95"]}


def run_level(api_url: str, clients: int, orders_per_client: int, sku: str, run: str, *, poll_s: float,
              order_timeout_s: float) -> tuple[dict[str, Any], list[OrderRun]]:
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    warehouse = Warehouse(api_url, poll_s)
    warehouse.start()
    results: list[list[OrderRun]] = [[] for _ in range(clients)]
    deadline = time.perf_counter() + order_timeout_s * orders_per_client + 30
    threads = [threading.Thread(target=_client, name=f"bench-client-{i}", daemon=True,
                                args=(api_url, f"c{clients}", i, sku, run, orders_per_client, warehouse, poll_s,
                                      order_timeout_s, deadline, results[i]))
               for i in range(clients)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        warehouse.stop()
    orders = [o for per_client in results for o in per_client]
    done = [o for o in orders if o.completed_at is not None]
    placed = [o.posted_at for o in orders if o.posted_at]
    wall = (max(o.completed_at for o in done if o.completed_at) - min(placed)) if done and placed else 0.0
    dispatched = warehouse.dispatched_at
    level = {
        "clients": clients,
        "started_at": started_at,
        "orders": len(orders),
        "completed": len(done),
        "timeouts": sum(o.timed_out for o in orders),
        "errors": [o.error for o in orders if o.error and not o.timed_out] + warehouse.errors,
        "wall_s": round(wall, 3),
        "orders_per_s": round(len(done) / wall, 3) if wall > 0 else 0.0,
        "capture_ms": _p50_p95([(o.captured_at - o.posted_at) * 1000 for o in orders if o.captured_at]),
        "captured_to_in_fulfillment_ms": _p50_p95([(o.in_fulfillment_at - o.captured_at) * 1000 for o in orders
                                                   if o.in_fulfillment_at and o.captured_at]),
        "dispatched_to_completed_ms": _p50_p95([(o.completed_at - dispatched[o.order_id]) * 1000 for o in done
                                                if o.completed_at and o.order_id in dispatched]),
        "order_ms": _p50_p95([(o.completed_at - o.posted_at) * 1000 for o in done if o.completed_at]),
        "timeline_steps_ms": timeline_steps(done),
    }
    if level["timeouts"]:
        level["timed_out_orders"] = [o.order_id for o in orders if o.timed_out]
    return level, orders


def _step(function: str) -> str:
    parts = function.split("-", 2)
    short = parts[2] if len(parts) == 3 and parts[0] == "oms" else function
    return STEPS.get(short, short)


def _calibrate_polls(api: Api, order_id: str, samples: int) -> dict[str, dict[str, float]]:
    """Which functions one ``GET /orders/{id}`` and one ``GET /shipments`` poll invoke, and how
    often (invocations per request, on the idle stack), keyed by the meter's route name."""
    polls: list[tuple[str, dict[str, Any], dict[str, str]]] = [
        (f"/orders/{order_id}", {}, {"x-api-key": KEYS["agent"]}),
        ("/shipments", {"status": "REQUESTED", "limit": 100}, {"x-api-key": KEYS["dc"]}),
    ]
    per_route: dict[str, dict[str, float]] = {}
    for path, params, headers in polls:
        api.settle()
        api.reset_meter()
        for _ in range(samples):
            api.http.get(path, params=params, headers=headers)  # raw: exactly one request per poll
        api.settle()
        used = api.meter()
        for route in used["api_requests"]["by_route"]:
            per_route[route] = {fn: n / samples for fn, n in used["lambda_invocations"]["by_function"].items()}
    return per_route


def where_the_time_goes(used: dict[str, Any], orders: int, polling: dict[str, dict[str, float]]) -> dict[str, Any]:
    """Per function: invocations and billed ms per order and share of the total, sorted by ms.

    ``bench_polling_ms_per_order`` estimates the part of a function's ms spent answering the
    bench's own polls: the function's ms times the polls' share of its invocations (poll requests
    counted by route, times the invocations one poll makes, from ``polling``). Polls are cheaper
    than the other requests the same functions serve (a capture, a dispatch), so it errs high.
    """
    lam = used["lambda_invocations"]
    routes: dict[str, int] = used["api_requests"]["by_route"]
    billed: dict[str, int] = lam["billed_ms_by_function"]
    invocations: dict[str, int] = lam["by_function"]
    total = sum(billed.values()) or 1
    poll_invocations: dict[str, float] = {}
    for route, per_request in polling.items():
        for fn, n in per_request.items():
            poll_invocations[fn] = poll_invocations.get(fn, 0.0) + routes.get(route, 0) * n
    poll_ms = {fn: ms * min(1.0, poll_invocations.get(fn, 0.0) / invocations[fn]) if invocations.get(fn) else 0.0
               for fn, ms in billed.items()}
    rows: list[dict[str, Any]] = [{"function": fn, "step": _step(fn),
             "invocations_per_order": round(invocations.get(fn, 0) / orders, 2),
             "ms_per_order": round(ms / orders, 1),
             "share": round(ms / total, 3),
             "bench_polling_ms_per_order": round(poll_ms[fn] / orders, 1)}
            for fn, ms in billed.items()]
    rows.sort(key=lambda r: -r["ms_per_order"])
    workflows = {name: {k: round(v / orders, 2) for k, v in w.items() if k != "duration_ms"}
                 for name, w in used.get("workflows", {}).items()}
    return {
        "orders": orders,
        "billed_ms_per_order": round(total / orders, 1),
        "bench_polling_ms_per_order": round(sum(poll_ms.values()) / orders, 1),
        "bench_polling_share": round(sum(poll_ms.values()) / total, 3),
        "lambda_invocations_per_order": round(lam["total"] / orders, 2),
        "aws_calls_per_order": round(used["aws_calls"]["total"] / orders, 1),
        "api_requests_per_order": {route: round(n / orders, 2) for route, n in sorted(routes.items())},
        "workflows_per_order": workflows,
        "by_function": rows,
    }


def table_items(api_url: str) -> int:
    """How many items the local table holds (a ``Scan`` with ``Select=COUNT``)."""
    with Api(api_url) as api:
        info = api.info()
    db = dynamodb_client(info)
    count, kwargs = 0, {"TableName": info["table_name"], "Select": "COUNT"}
    while True:
        page = db.scan(**kwargs)
        count += int(page["Count"])
        if "LastEvaluatedKey" not in page:
            return count
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def lifecycle_throughput(api_url: str, *, orders_per_client: int = 10, clients: tuple[int, ...] = (1, 2, 4),
                         poll_s: float = 0.05, order_timeout_s: float = 30.0,
                         calibration_polls: int = 20) -> dict[str, Any]:
    """Run one level per entry of ``clients`` and return ``{"levels": {"<c>": {…}},
    "lifecycle_orders_per_s", "lifecycle_scaling_4_over_1", "lifecycle_scaling": {"<c>": …},
    "where_the_time_goes": {…}}`` (see the module docstring)."""
    if orders_per_client < 1 or not clients or min(clients) < 1:
        raise ValueError("need at least one order per client and one client per level")
    api_url = api_url.rstrip("/")
    run = uuid.uuid4().hex[:8]
    sku = f"BENCH-LC-{run}"
    metered = 1 if 1 in clients else clients[0]
    levels: dict[str, dict[str, Any]] = {}
    where: dict[str, Any] = {}
    items_at_start = table_items(api_url)
    with Api(api_url, timeout=30) as api:
        api.put_stock(sku, NODE, max(10_000, 10 * orders_per_client * sum(clients)))
        for c in clients:
            api.settle()
            if c == metered and not where:
                api.reset_meter()
            level, orders = run_level(api_url, c, orders_per_client, sku, run, poll_s=poll_s,
                                      order_timeout_s=order_timeout_s)
            levels[str(c)] = level
            if c == metered and not where:
                api.settle()
                used = api.meter()
                sample = next((o.order_id for o in orders if o.order_id), None)
                polling = _calibrate_polls(api, sample, calibration_polls) if sample and calibration_polls else {}
                where = {"level": str(c), **where_the_time_goes(used, max(1, len(orders)), polling)}
        api.settle()
    base = levels[str(metered)]["orders_per_s"]
    scaling = {str(c): (round(levels[str(c)]["orders_per_s"] / base, 2) if base else 0.0) for c in clients}
    return {
        "orders_per_client": orders_per_client,
        "clients": list(clients),
        "poll_s": poll_s,
        "sku": sku,
        "table_items_at_start": items_at_start,
        "levels": levels,
        "lifecycle_orders_per_s": levels[str(metered)]["orders_per_s"],
        "lifecycle_scaling_4_over_1": scaling.get("4") if metered == 1 else None,
        "lifecycle_scaling": scaling,
        "where_the_time_goes": where,
    }


def table(result: dict[str, Any]) -> str:
    out = [f"Lifecycle: capture -> COMPLETED with a simulated {NODE} dispatching, "
           f"{result['orders_per_client']} orders per client, polls every {result['poll_s'] * 1000:g} ms, "
           f"{result['table_items_at_start']} items in the table at the start"]
    head = ("clients", "done", "t/o", "wall s", "orders/s", "x 1", "capture p50", "->IN_FULF p50/p95",
            "disp->COMPL p50/p95")
    out.append("  " + " ".join(f"{h:>{max(len(h), 8)}}" for h in head))
    for c, lv in result["levels"].items():
        a, b = lv["captured_to_in_fulfillment_ms"], lv["dispatched_to_completed_ms"]
        cells = (c, f"{lv['completed']}/{lv['orders']}", str(lv["timeouts"]), f"{lv['wall_s']:.2f}",
                 f"{lv['orders_per_s']:.2f}", f"{result['lifecycle_scaling'].get(c, 0):.2f}",
                 f"{lv['capture_ms'].get('p50', 0):.0f} ms",
                 f"{a.get('p50', 0):.0f}/{a.get('p95', 0):.0f} ms", f"{b.get('p50', 0):.0f}/{b.get('p95', 0):.0f} ms")
        out.append("  " + " ".join(f"{x:>{max(len(h), 8)}}" for x, h in zip(cells, head, strict=True)))
    first = next(iter(result["levels"].values()))
    if first["timeline_steps_ms"]:
        out.append(f"Steps from the orders' timelines, {first['clients']} client(s), ms p50/p95:")
        width = max(len(s) for s in first["timeline_steps_ms"])
        for step, v in first["timeline_steps_ms"].items():
            out.append(f"  {step:<{width}} {v['p50']:>8.0f} {v['p95']:>8.0f}")
    where = result["where_the_time_goes"]
    if where:
        out.append(f"Where the time goes (Lambda billed ms, {where['level']}-client level, {where['orders']} orders): "
                   f"{where['billed_ms_per_order']:.0f} ms/order in {where['lambda_invocations_per_order']:g} "
                   f"invocations, {where['aws_calls_per_order']:g} AWS calls; of which answering the bench's polls ~"
                   f"{where['bench_polling_ms_per_order']:.0f} ms ({where['bench_polling_share'] * 100:.0f}%)")
        width = max(len(r["function"]) for r in where["by_function"])
        out.append(f"  {'function':<{width}} {'inv/order':>9} {'ms/order':>9} {'share':>6} {'polling':>8}  step")
        for r in where["by_function"]:
            out.append(f"  {r['function']:<{width}} {r['invocations_per_order']:>9g} {r['ms_per_order']:>9.1f} "
                       f"{r['share'] * 100:>5.1f}% {r['bench_polling_ms_per_order']:>8.1f}  {r['step']}")
        out.append("  API requests per order: " + ", ".join(f"{k} {v:g}"
                                                           for k, v in where["api_requests_per_order"].items()))
    errors = [e for lv in result["levels"].values() for e in lv["errors"]]
    if errors:
        out.append(f"Errors ({len(errors)}): " + "; ".join(errors[:5]))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.lifecycle", description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="the local API (front door) base URL")
    parser.add_argument("--orders-per-client", type=int, default=10)
    parser.add_argument("--clients", default="1,2,4", help="concurrency levels, comma-separated (default 1,2,4)")
    parser.add_argument("--poll-ms", type=float, default=50.0, help="client and warehouse poll interval")
    parser.add_argument("--order-timeout", type=float, default=30.0, help="seconds before an order is given up")
    args = parser.parse_args(argv)
    levels = tuple(int(c) for c in args.clients.split(",") if c.strip())
    result = lifecycle_throughput(args.url, orders_per_client=args.orders_per_client, clients=levels,
                                  poll_s=args.poll_ms / 1000, order_timeout_s=args.order_timeout)
    print(table(result))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
