"""The local stack as it fills: capture and listing latency, and the lifecycle throughput, on one
stack holding about 0, 10,000 and 100,000 table items, side by side in one run.

The stack is filled by ``POST /_local/fill`` (``oms local fill``): copies of a real completed
order's items — header and listings, details, shipment, invoice, notices, timeline — as a few
weeks of a shop's history would hold them, written as an import writes them (no stream
records). At each fill level:

- **capture**: ``POST /orders`` p50, each call on an idle stack with the stream consumers paused
  (``bench.latency.capture_latency``, the same measurement as the capture figure), next to the
  raw capture transaction;
- **listing**: ``GET /orders?limit=20`` of channel ``webshop`` — the channel every filled order
  belongs to, so its listing partition grows with the fill — p50 on an idle stack;
- **lifecycle**: orders from capture to ``COMPLETED`` with a simulated warehouse, one client
  (``bench.lifecycle``).

The figures are ratios to the first level (``local_capture_100k_over_empty``,
``local_list_100k_over_empty``; goal ≤ 1.5): on DynamoDB a capture touches its own items and a
listing page reads one partition from its start, whatever the table holds, and so should the
local stack. ``python -m bench.local_scale [--url URL]`` runs just this (default: a fresh stack).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import httpx

from bench import latency, lifecycle
from bench.latency import dynamodb_client, percentiles
from localcloud.client import KEYS, Api

LEVELS = (0, 10_000, 100_000)


def table_items(info: dict[str, Any]) -> int:
    """The table's item count (``DescribeTable``; live on the local cloud)."""
    return int(dynamodb_client(info).describe_table(TableName=info["table_name"])["Table"]["ItemCount"])


def fill_to(api: Api, info: dict[str, Any], target: int) -> dict[str, Any]:
    """Fill the stack up to about ``target`` items (nothing if it holds that many already)."""
    before = table_items(info)
    if target <= before:
        return {"items_before": before, "items_after": before, "filled_items": 0, "fill_s": 0.0}
    answer = api.http.post("/_local/fill", json={"items": target - before}, timeout=900)
    if answer.status_code != 200:
        raise RuntimeError(f"POST /_local/fill answered {answer.status_code}: {answer.text}")
    body = answer.json()
    return {"items_before": before, "items_after": table_items(info), "filled_items": body["items"],
            "filled_orders": body["orders"], "fill_s": body["seconds"]}


def listing_latency(api: Api, samples: int) -> dict[str, float]:
    http: httpx.Client = api.http
    headers = {"x-api-key": KEYS["webshop"]}
    times: list[float] = []
    for _ in range(samples + 2):
        api.settle()
        started = time.perf_counter()
        r = http.get("/orders", params={"limit": 20}, headers=headers)
        elapsed = (time.perf_counter() - started) * 1000
        if r.status_code != 200 or not r.json()["orders"]:
            raise RuntimeError(f"GET /orders answered {r.status_code}: {r.text[:300]}")
        times.append(elapsed)
    return percentiles(times[2:])  # the first two warm the path


def local_scale(api_url: str, *, levels: tuple[int, ...] = LEVELS, samples: int = 30,
                lifecycle_orders: int = 5, log: Any = sys.stderr) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with Api(api_url, timeout=60) as api:
        info = api.info()
        for level in levels:
            filled = fill_to(api, info, level)
            print(f"  local scale: {filled['items_after']:,} items …", file=log, flush=True)
            api.settle(300)
            capture = latency.capture_latency(api_url, orders=samples, warmup=3)
            listing = listing_latency(api, samples)
            life = lifecycle.lifecycle_throughput(api_url, orders_per_client=lifecycle_orders, clients=(1,),
                                                  calibration_polls=0)
            results[str(level)] = {
                **filled, "capture_ms": capture["capture_ms"], "transact_ms": capture["transact_ms"],
                "list_ms": listing, "lifecycle_orders_per_s": life["lifecycle_orders_per_s"],
            }
    first, last = results[str(levels[0])], results[str(levels[-1])]
    name = f"{levels[-1] // 1000}k"
    return {
        "levels": results,
        f"local_capture_{name}_over_empty": round(last["capture_ms"]["p50"] / first["capture_ms"]["p50"], 3),
        f"local_list_{name}_over_empty": round(last["list_ms"]["p50"] / first["list_ms"]["p50"], 3),
        f"local_lifecycle_{name}_over_empty": (
            round(last["lifecycle_orders_per_s"] / first["lifecycle_orders_per_s"], 3)
            if first["lifecycle_orders_per_s"] else None),
    }


def table(result: dict[str, Any]) -> str:
    lines = ["Local stack as it fills (p50, ms; lifecycle orders/s, one client)",
             f"  {'items':>9} {'capture':>9} {'transact':>9} {'listing':>9} {'lifecycle':>10}"]
    for level in result["levels"].values():
        lines.append(f"  {level['items_after']:>9,} {level['capture_ms']['p50']:>9.1f}"
                     f" {level['transact_ms']['p50']:>9.1f} {level['list_ms']['p50']:>9.1f}"
                     f" {level['lifecycle_orders_per_s']:>10.2f}")
    lines += [f"  {k}: {v}" for k, v in result.items() if k.startswith("local_")]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.local_scale", description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running local stack (default: start a fresh one)")
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--levels", default=",".join(map(str, LEVELS)), help="item counts, e.g. 0,10000,100000")
    args = parser.parse_args(argv)
    levels = tuple(int(x) for x in args.levels.split(","))
    if args.url:
        result = local_scale(args.url, levels=levels, samples=args.samples)
    else:
        from localcloud.launcher import LocalStack

        with LocalStack() as stack:
            result = local_scale(stack.url, levels=levels, samples=args.samples)
    print(table(result))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
