"""The architecture, enforced from the tree itself (no hand-kept lists):

- every folder under ``functions/`` but ``core`` is a capability, and capabilities do not
  import each other (they talk through the table, workflows and events); core imports none;
- use cases and domain code import no AWS SDK and no HTTP framework — found by their room:
  every capability's modules outside ``handlers/`` and ``adapters/`` except its composition
  root (``wiring.py``) and its HTTP routes (``endpoints.py``), and ``core/`` outside
  ``adapters/`` and ``handlers/`` (the entry-point plumbing);
- every module of ``functions/core`` is used, directly or through other core modules, by two
  or more capabilities (a rule one capability owns lives in its folder);
- no import cycle among ``functions/`` modules; no operator tool in the Lambda asset.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = ROOT / "functions"
CAPABILITIES = sorted(p.name for p in FUNCTIONS.iterdir() if (p / "__init__.py").exists() and p.name != "core")
#: Rooms whose modules talk to the outside world (or are the entry points' plumbing).
IMPURE_ROOMS = ("handlers", "adapters")
#: Capability modules that wire or serve rather than decide.
IMPURE_MODULES = ("wiring.py", "endpoints.py")
FORBIDDEN = ("boto3", "botocore", "aws_lambda_powertools.event_handler")


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module(p): p for p in FUNCTIONS.rglob("*.py")}


def _pure(path: Path) -> bool:
    rel = path.relative_to(FUNCTIONS).parts
    if path.name == "__init__.py" or len(rel) < 2 or any(room in rel[1:-1] for room in IMPURE_ROOMS):
        return False
    return rel[0] == "core" or path.name not in IMPURE_MODULES


PURE = sorted(m for m, p in MODULES.items() if _pure(p))


def test_the_rooms_are_found() -> None:
    # a sanity check of the discovery itself: it finds the capabilities and their use cases
    assert {"access", "allocate", "capture", "invoice", "notify", "route"} <= set(CAPABILITIES)
    assert {"functions.core.orders", "functions.capture.capturing", "functions.capture.ports",
            "functions.invoice.billing", "functions.allocate.reservations"} <= set(PURE)
    assert "functions.capture.wiring" not in PURE and "functions.core.adapters.keys" not in PURE


@pytest.mark.parametrize("module", PURE)
def test_use_cases_and_domain_import_no_aws_sdk_or_http_framework(module: str) -> None:
    code = (f"import sys, {module}; "
            f"print(','.join(m for m in {FORBIDDEN!r} if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                            timeout=60)
    assert result.stdout.strip() == "", f"{module} imports {result.stdout.strip()}"


def _type_checking_only(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


@cache
def _imports(module: str) -> frozenset[str]:
    """The modules ``module`` imports (absolute names; ``if TYPE_CHECKING:`` blocks left out)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    names: set[str] = set()
    todo: list[ast.AST] = [ast.parse(path.read_text())]
    while todo:
        node = todo.pop()
        if _type_checking_only(node):
            continue
        todo.extend(ast.iter_child_nodes(node))
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, *([base] if base else [])])
            names.add(base)
            names |= {f"{base}.{a.name}" for a in node.names}  # ``from pkg import module``
    return frozenset(n for n in names if n in MODULES)


def _capability(module: str) -> str:
    """``functions.<capability>.…`` → its capability; ``""`` for the asset's own root modules."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in [*CAPABILITIES, "core"]) else ""


@pytest.mark.parametrize("capability", CAPABILITIES)
def test_capabilities_talk_through_the_table_workflows_and_events_not_imports(capability: str) -> None:
    for module in (m for m in MODULES if _capability(m) == capability):
        bad = {m for m in _imports(module) if _capability(m) not in ("core", capability, "")}
        assert not bad, f"{module} imports {bad}"


def test_core_imports_no_capability() -> None:
    for module in (m for m in MODULES if _capability(m) == "core"):
        bad = {m for m in _imports(module) if _capability(m) not in ("core", "")}
        assert not bad, f"{module} imports {bad}"


def test_every_core_module_is_used_by_two_capabilities_or_more() -> None:
    users: dict[str, set[str]] = {m: set() for m in MODULES if _capability(m) == "core"}
    for module in MODULES:
        if _capability(module) in ("core", ""):
            continue
        seen: set[str] = set()
        todo = [m for m in _imports(module) if _capability(m) == "core"]
        while todo:  # through core modules: what a core module imports is used too
            core = todo.pop()
            if core in seen:
                continue
            seen.add(core)
            todo.extend(m for m in _imports(core) if _capability(m) == "core")
        for core in seen:
            users[core].add(_capability(module))
    lonely = {m: sorted(u) for m, u in users.items() if len(u) < 2 and MODULES[m].name != "__init__.py"}
    assert not lonely, f"core modules used by fewer than two capabilities (move them to their owner): {lonely}"


def test_no_import_cycle_among_the_functions_modules() -> None:
    graph = {m: {i for i in _imports(m) if MODULES[i].name != "__init__.py"} for m in MODULES}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for nxt in sorted(graph[module]):
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt):], nxt] if nxt in path else [module, nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not cycles, f"import cycles: {cycles}"


def test_no_operator_tool_ships_in_the_lambda_asset() -> None:
    # operator tools (the ``oms`` command line) live outside functions/: nothing there parses a
    # command line or talks to CloudFormation, which only an operator's workstation does
    for module, path in MODULES.items():
        imported = {n.split(".")[0] for n in _raw_imports(path)}
        assert not imported & {"argparse", "typer", "click", "rich"}, f"{module} is an operator tool"
        assert "cloudformation" not in path.read_text(), f"{module} reads stack outputs: an operator tool"


def _raw_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    return names | {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}


@pytest.mark.parametrize("folder", [*CAPABILITIES, "core"])
def test_no_two_files_of_a_capability_share_a_basename(folder: str) -> None:
    # one name, one module: `service.py` and `adapters/service.py` side by side is how a reader
    # opens the wrong file
    names = [p.name for p in (FUNCTIONS / folder).rglob("*.py") if p.name != "__init__.py"]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
