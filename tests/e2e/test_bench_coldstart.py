"""Smoke test of the cold-start benchmark (bench/coldstart.py) on the session's local stack.

Structure only: every deployed function measured with its handler, the boto3 baseline present,
ratios positive, the code asset found. Timings are never asserted (they depend on the machine).
"""

from __future__ import annotations

from typing import Any

import pytest

from bench.coldstart import measure, table


@pytest.fixture(scope="module")
def result(stack: str) -> dict[str, Any]:
    return measure(stack, repeats=1, warmup=False)


def test_every_deployed_function_is_measured(result: dict[str, Any], aws: Any) -> None:
    deployed = {f["FunctionName"]: f["Handler"]
                for f in aws("lambda").get_paginator("list_functions").paginate().build_full_result()["Functions"]}
    assert len(deployed) >= 14  # every function of the stack (infra tests pin the count)
    assert {name: h["handler"] for name, h in result["handlers"].items()} == deployed
    for name, h in result["handlers"].items():
        for key in ("import_ms", "first_call_ms", "total_ms", "startup_ms", "cpu_total_ms"):
            assert isinstance(h[key], float) and h[key] >= 0, (name, key, h)
        assert h["total_ms"] >= h["import_ms"] + h["first_call_ms"], (name, h)
        assert h["over_baseline"] > 0 and h["cpu_over_baseline"] > 0, (name, h)
        assert "NO SAMPLE EVENT" not in h["sample_event"], name
        # the child got as far as the handler; a domain error of a task payload is allowed
        assert h.get("outcome") or h.get("error"), (name, h)
        assert "without a result" not in str(h.get("error", "")), (name, h)


def test_baseline_asset_and_summary(result: dict[str, Any]) -> None:
    baseline = result["baseline_ms"]
    assert baseline.get("error") is None and baseline["outcome"] == "ACTIVE"
    assert baseline["total_ms"] > 0 and baseline["import_ms"] > 0 and baseline["first_call_ms"] > 0
    assert result["bare_python_ms"] > 0 and result["repeats"] == 1
    assert result["worst"] in result["handlers"]
    assert result["max_cold_start_over_boto3"] == result["handlers"][result["worst"]]["over_baseline"] > 0
    assert result["asset_size_bytes"] > 0 and result["asset_files"] > 0
    assert result["asset_source"].startswith("s3://")  # the asset the stack's functions were created from
    assert "boto3 baseline" in table(result)


def test_sample_events_leave_no_trace(result: dict[str, Any], aws: Any, local_info: dict[str, Any]) -> None:
    """Task payloads name an order that does not exist; their conditional writes must all fail."""
    items = aws("dynamodb").query(
        TableName=local_info["table_name"], KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": "ORDER#ord_coldstart-bench"}})["Items"]
    assert items == []
