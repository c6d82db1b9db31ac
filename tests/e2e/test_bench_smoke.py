"""`make bench` runs end to end on a handful of orders (against the e2e tier's stack) and writes
the figures the performance issue names, the chart and the table. Never asserts timings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.__main__ import main

HEADLINE = ("cost_per_1000_orders_usd", "aws_requests_per_order", "capture_p99_over_transact_p99",
            "max_cold_start_over_boto3", "lifecycle_orders_per_s", "lifecycle_scaling_4_over_1")


@pytest.mark.timeout(900)  # the whole bench, if small: a fresh interpreter per handler, then three load runs
def test_bench_writes_results_chart_and_table(stack: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "results.json"
    assert main(["--quick", "--url", stack, "--out", str(out)]) == 0
    results = json.loads(out.read_text())
    for key in HEADLINE:
        assert isinstance(results[key], (int, float)) and results[key] > 0, key
    assert results["per_order"]["aws_requests_by_service"]["dynamodb"] > 0
    # every order's invoice was rendered off the capture path, its cost reported per document
    # and none of its requests counted per order
    document = results["document"]
    assert document["documents"] >= results["sizes"]["orders"]
    assert document["aws_requests_by_operation"]["s3.PutObject"] == 2  # per document: the PDF and the XML
    assert "s3.PutObject" not in results["per_order"]["aws_requests_by_operation"]
    assert document["cost_per_1000_documents_usd"] > 0
    assert results["cost"]["items"]["dynamodb_writes"] > 0 and results["cost"]["dispatch_email_per_1000_usd"] == 0.1
    assert set(results["targets"]) == {"cost_per_1000_orders_usd", "aws_requests_per_order",
                                       "capture_p99_over_transact_p99", "max_cold_start_over_boto3"}
    # the stack as it fills: one level as found, one filled to 3,000 items (the full run: 100,000)
    levels = results["local_scale"]["levels"]
    assert list(levels) == ["0", "3000"] and levels["3000"]["items_after"] >= 3000
    assert all(level["capture_ms"]["p50"] > 0 and level["list_ms"]["p50"] > 0 for level in levels.values())
    assert results["local_capture_3k_over_empty"] > 0 and results["local_list_3k_over_empty"] > 0
    assert out.with_suffix(".png").stat().st_size > 10_000
    assert "cost_per_1000_orders_usd" in capsys.readouterr().out
