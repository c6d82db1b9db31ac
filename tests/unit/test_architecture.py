"""The architecture, enforced: use cases and domain code import no AWS SDK and no HTTP
framework (adapters and handlers do), and capabilities do not import each other."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = ROOT / "functions"
CAPABILITIES = ("access", "capture", "allocate", "route", "notify", "invoice", "returns")

#: Domain and use-case modules: what they may not pull in, even indirectly.
PURE = [
    "functions.core.orders", "functions.core.sourcing", "functions.core.pricing", "functions.core.promise",
    "functions.core.money", "functions.core.principal", "functions.core.errors", "functions.core.events",
    "functions.access.keys", "functions.capture.logic", "functions.allocate.logic",
    "functions.allocate.reservations", "functions.route.logic",
]
FORBIDDEN = ("boto3", "botocore", "aws_lambda_powertools.event_handler")


@pytest.mark.parametrize("module", PURE)
def test_use_cases_and_domain_import_no_aws_sdk_or_http_framework(module: str) -> None:
    code = (f"import sys, {module}; "
            f"print(','.join(m for m in {FORBIDDEN!r} if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "", f"{module} imports {result.stdout.strip()}"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    names |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    return names


@pytest.mark.parametrize("capability", CAPABILITIES)
def test_capabilities_talk_through_the_table_workflows_and_events_not_imports(capability: str) -> None:
    others = [c for c in CAPABILITIES if c != capability]
    for path in (FUNCTIONS / capability).rglob("*.py"):
        bad = {m for m in _imports(path) if any(m.startswith(f"functions.{o}") for o in others)}
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_core_imports_no_capability() -> None:
    for path in (FUNCTIONS / "core").rglob("*.py"):
        bad = {m for m in _imports(path) if any(m.startswith(f"functions.{c}") for c in CAPABILITIES)}
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"
