"""Settings every tier shares: the Powertools variables the deployed functions get from the
template (docs/ARCHITECTURE.md, "Environment variables")."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "oms")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "OMS")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("AWS_DEFAULT_REGION", "eu-central-1")

TESTS = Path(__file__).resolve().parent
#: The marker of each tier's folder (the local-cloud fixes are integration tests of localcloud/).
TIER_MARKERS = {"unit": "unit", "localcloud": "integration", "integration": "integration", "e2e": "e2e",
                "infra": "infra"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test by its tier folder, so `-m unit` (or `-m "not e2e"`) selects a tier."""
    for item in items:
        tier = item.path.relative_to(TESTS).parts[0] if TESTS in item.path.parents else None
        if tier in TIER_MARKERS:
            item.add_marker(getattr(pytest.mark, TIER_MARKERS[tier]))
