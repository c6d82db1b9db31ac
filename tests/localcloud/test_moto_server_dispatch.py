"""A request is routed to its backend without listing moto's package (localcloud.patches.moto_server_dispatch)."""

from __future__ import annotations

import os
from typing import Any

import moto
import pytest
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

from localcloud.patches import moto_server_dispatch

pytestmark = pytest.mark.timeout(30)
MOTO = os.path.dirname(moto.__file__)


@pytest.fixture
def listings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    real = os.listdir

    def counting(path: Any = ".") -> list[str]:
        if str(path) == MOTO:  # another thread's listing of anything else does not count
            seen.append(str(path))
        return real(path)

    monkeypatch.setattr(os, "listdir", counting)
    return seen


def _route(hosts: list[str]) -> list[Any]:
    dispatcher = DomainDispatcherApplication(create_backend_app)
    return [dispatcher.get_backend_for_host(host) for host in hosts]


def test_requests_are_routed_without_listing_the_package_each_time(listings: list[str]) -> None:
    moto_server_dispatch.install()
    _route(["dynamodb"])  # the first may read the package once
    listings.clear()
    assert _route(["dynamodb", "sqs", "dynamodb.eu-central-1.amazonaws.com", "nothing-like-a-service"]) == [
        "dynamodb", "sqs", "dynamodb", None]
    assert listings == []


def test_without_the_patch_every_request_lists_the_package(listings: list[str]) -> None:
    moto_server_dispatch.uninstall()
    try:
        _route(["dynamodb", "sqs"])
        assert len(listings) == 2
    finally:
        moto_server_dispatch.install()
