"""End-to-end tier: a real `python -m localcloud serve` (what `make up` runs) on a free port,
used only through its HTTP API — as a webshop, a warehouse or an agent would. The stack is started
by the one launcher the demo and the bench use too (localcloud/launcher.py)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from localcloud.client import KEYS
from localcloud.launcher import LocalStack, StackNotReady
from tests.least_privilege import deployed, verify

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
        if local.errors:  # shown in the warnings summary: what a failed test's 5xx was
            warnings.warn("the stack's functions raised: " + "".join(local.errors)[-8000:], stacklevel=1)
        if local.running:  # what the functions touched, held to their policies
            _verify_least_privilege(local.url)
    finally:
        local.stop()


def _verify_least_privilege(url: str) -> None:
    import boto3

    with httpx.Client(base_url=url, timeout=30) as http:
        info = http.get("/_local/info").json()
        observed = http.get("/_local/leading-keys").json()
    cloudformation = boto3.client("cloudformation", endpoint_url=info["aws_endpoint_url"], region_name=info["region"],
                                  aws_access_key_id="local", aws_secret_access_key="local")
    template, tables = deployed(cloudformation, info.get("stack_name") or "Oms-local")
    verify("e2e", observed, template, tables)


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
