"""Unit tier: no network at all (pytest-socket), no moto."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.unit)


@pytest.fixture(autouse=True)
def _no_network(socket_disabled: None) -> None:
    """Any socket use in a unit test fails it."""
