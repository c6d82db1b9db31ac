"""Smoke tests of the load benches (``bench.latency``, ``bench.lifecycle``) against the session's
local stack, at tiny sizes: they run end to end and report complete, consistent figures. Nothing
here asserts a time: the figures are for reading, not for gating."""

from __future__ import annotations

import pytest

from bench.latency import capture_latency
from bench.lifecycle import lifecycle_throughput

pytestmark = pytest.mark.slow

QUANTILES = ("p50", "p95", "p99", "mean")


def test_capture_latency_reports_both_paths_and_their_ratios(stack: str) -> None:
    result = capture_latency(stack, orders=20)

    assert result["orders"] == 20
    for path in ("capture_ms", "transact_ms"):
        figures = result[path]
        assert set(figures) == set(QUANTILES)
        assert 0 < figures["p50"] <= figures["p95"] <= figures["p99"]
    assert result["capture_p99_over_transact_p99"] > 0
    assert result["capture_p50_over_transact_p50"] > 0
    # The capture function wrote each order with exactly one transaction (the one timed raw).
    assert result["capture_function_aws_calls_per_capture"]["dynamodb.TransactWriteItems"] == 1


def test_lifecycle_carries_every_order_to_completed_and_says_where_the_time_goes(stack: str) -> None:
    result = lifecycle_throughput(stack, orders_per_client=2, clients=(1, 2))

    assert set(result["levels"]) == {"1", "2"}
    for clients, level in result["levels"].items():
        assert level["clients"] == int(clients)
        assert level["orders"] == level["completed"] == 2 * int(clients), level
        assert level["timeouts"] == 0 and level["errors"] == [], level
        assert level["orders_per_s"] > 0 and level["wall_s"] > 0
        for latency in ("capture_ms", "captured_to_in_fulfillment_ms", "dispatched_to_completed_ms", "order_ms"):
            assert 0 <= level[latency]["p50"] <= level[latency]["p95"], (latency, level[latency])
        assert "ShipmentDispatched -> InvoiceIssued" in level["timeline_steps_ms"]
    assert result["lifecycle_orders_per_s"] == result["levels"]["1"]["orders_per_s"]
    assert result["lifecycle_scaling"]["1"] == 1.0 and result["lifecycle_scaling"]["2"] > 0
    assert result["lifecycle_scaling_4_over_1"] is None  # no 4-client level at this size

    where = result["where_the_time_goes"]
    assert where["level"] == "1" and where["orders"] == 2
    assert where["api_requests_per_order"]["POST /orders"] == 1
    functions = {row["function"].split("-", 2)[-1]: row for row in where["by_function"]}
    for step in ("capture-api", "capture-stream", "route-plan", "allocate-reserve",
                 "invoice-shipment"):
        assert functions[step]["invocations_per_order"] >= 1, step
    assert sum(row["share"] for row in where["by_function"]) == pytest.approx(1.0, abs=0.02)
    shares = [row["ms_per_order"] for row in where["by_function"]]
    assert shares == sorted(shares, reverse=True)
    assert all(0 <= row["bench_polling_ms_per_order"] <= row["ms_per_order"] for row in where["by_function"])
