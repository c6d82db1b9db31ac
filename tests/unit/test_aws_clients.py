"""Clients and composition roots follow the environment they are used in."""

from __future__ import annotations

import pytest

from functions.capture.wiring import capture_service
from functions.core.adapters.aws import client


@pytest.fixture(autouse=True)
def _credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without them botocore would ask the instance metadata service (a network call)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "unit")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "unit")


def test_client_is_reused_but_never_across_endpoints(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1111")
    first = client("dynamodb")
    assert client("dynamodb") is first  # built once per container
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:2222")  # another local cloud
    second = client("dynamodb")
    assert second is not first and second.meta.endpoint_url == "http://127.0.0.1:2222"


def test_capture_service_follows_the_deployed_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TABLE_NAME", "table-a")
    a = capture_service()
    assert capture_service() is a
    monkeypatch.setenv("TABLE_NAME", "table-b")  # the stack was deployed again
    assert capture_service().store.table == "table-b"  # type: ignore[attr-defined]
