"""Unit tier: no network at all (pytest-socket), no moto."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_network(socket_disabled: None) -> None:
    """Any socket use in a unit test fails it."""
