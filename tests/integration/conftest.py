"""Integration tier: the synthesized `local` template deployed into the embedded cloud
(the same one `make up` serves), exercised through AWS APIs and the deployed functions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from localcloud.assembly import ensure_assembly
from localcloud.server import LocalCloud
from tests.least_privilege import verify

EVENTS = Path(__file__).resolve().parents[1] / "events"


@pytest.fixture(scope="session")
def cloud() -> Iterator[LocalCloud]:
    from localcloud import meter

    with LocalCloud(assembly=ensure_assembly("local")) as running:
        from localcloud.seed import seed

        assert running.deployment is not None
        meter.reset_leading_keys()
        seed(running.deployment)
        yield running
        # every partition key the functions named in this session, held to their policies
        deployment = running.deployment
        tables = {physical: logical for logical, physical in deployment.of_type("AWS::DynamoDB::Table").items()}
        verify("integration", meter.leading_keys(), deployment.template, tables)


@pytest.fixture(scope="session")
def outputs(cloud: LocalCloud) -> dict[str, str]:
    assert cloud.deployment is not None
    return dict(cloud.deployment.outputs)


@pytest.fixture(scope="session")
def function_names(cloud: LocalCloud) -> dict[str, str]:
    """``capture-stream`` → ``oms-local-capture-stream``, from the deployed functions."""
    names = [f["FunctionName"] for f in boto3.client("lambda").list_functions()["Functions"]]
    return {n.removeprefix("oms-local-"): n for n in names}


def invoke(function: str, payload: dict[str, Any]) -> tuple[str | None, Any]:
    r = boto3.client("lambda").invoke(FunctionName=function, Payload=json.dumps(payload))
    return r.get("FunctionError"), json.loads(r["Payload"].read() or b"null")


def event(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return data
