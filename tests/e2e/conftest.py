"""End-to-end tier: a real `python -m localcloud serve` (what `make up` runs) on a free port,
used only through its HTTP API — as a webshop, a warehouse or an agent would. The stack is started
by the one launcher the demo and the bench use too (localcloud/launcher.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from localcloud.client import KEYS
from localcloud.launcher import LocalStack, StackNotReady

__all__ = ["KEYS"]  # the tests import the local keys from here


@pytest.fixture(scope="session")
def stack() -> Iterator[str]:
    local = LocalStack(ready_timeout=300)
    try:
        local.start()
    except StackNotReady as e:
        pytest.fail(str(e))
    try:
        yield local.url
    finally:
        local.stop()


@pytest.fixture(scope="session")
def http(stack: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack, timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
def local_info(http: httpx.Client) -> dict[str, Any]:
    info: dict[str, Any] = http.get("/_local/info").json()
    return info


@pytest.fixture(scope="session")
def aws(local_info: dict[str, Any]) -> Any:
    """A boto3 factory pointed at the local cloud, as any AWS client would be."""
    import boto3

    def make(service: str) -> Any:
        return boto3.client(service, endpoint_url=local_info["aws_endpoint_url"], region_name=local_info["region"],
                            aws_access_key_id="local", aws_secret_access_key="local")

    return make
