"""The dependencies layer holds every third-party package a deployed function imports.

Locally the functions run in-process from the project's venv, where a package missing from the
layer is never noticed. Here every handler the synthesized templates name, and every other module
the code asset ships (adapters that import their library lazily, inside a function), is imported
in a FRESH interpreter whose ``sys.path`` is what Lambda gives a function: the code asset
(/var/task), the layer's ``python/`` (/opt/python) and the standard library — ``python -S -E``,
so neither this venv nor PYTHONPATH can help.

Compiled wheels for Lambda (arm64, Python 3.13) cannot be imported on this machine, so the
imports use a host build of the same locked requirements made by the same builder
(infra/dependencies.py), and the Lambda layer in the cloud assembly is held to the same
distributions and versions, built for the runtime.
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import pytest
from cfn_template import resources

from infra import dependencies
from infra.dependencies import LAMBDA, Target, build_layer, distributions, host_target, parse_requirements

pytestmark = pytest.mark.infra

DEPLOYED = ("dev", "staging", "prod")

# The child: a deployed function's sys.path, then the imports; it reports what failed and any
# module that came from somewhere else than the asset, the layer or the standard library.
CHILD = r"""
import gc, json, sys
spec = json.loads(sys.argv[1])
sys.path[:] = spec["path"] + [p for p in sys.path if p]
failures = {}
for target in spec["imports"]:
    module_name, _, attr = target.partition(":")
    try:
        module = __import__(module_name, fromlist=["_"])
        if attr and not callable(getattr(module, attr)):
            failures[target] = "%s is not callable" % attr
    except BaseException as exc:
        failures[target] = "%s: %s" % (type(exc).__name__, exc)
files = {getattr(m, "__file__", None) for m in list(sys.modules.values())} - {None}
foreign = sorted(f for f in files if not f.startswith(tuple(spec["path"]))
                 and not (f.startswith(tuple(spec["stdlib"])) and "site-packages" not in f))
print(json.dumps({"failures": failures, "foreign": foreign, "sys_path": sys.path,
                  "gc": {"enabled": gc.isenabled(), "frozen": gc.get_freeze_count()}}))
"""


def _asset_dir(assembly_dir: Path, resource: dict[str, Any]) -> Path:
    return assembly_dir / resource["Metadata"]["aws:asset:path"]


@pytest.fixture(scope="module")
def code_asset(assembly_dir: Path, templates: dict[str, Any]) -> Path:
    """The staged code asset every function of every environment is created from."""
    (path,) = {_asset_dir(assembly_dir, f) for env in templates
               for f in resources(templates[env], "AWS::Lambda::Function").values()}
    assert (path / "functions").is_dir()
    return path


@pytest.fixture(scope="module")
def lambda_layer(assembly_dir: Path, templates: dict[str, Any]) -> Path:
    """The staged layer asset of dev/staging/prod (the directory that is zipped and published)."""
    (path,) = {_asset_dir(assembly_dir, layer) for env in DEPLOYED
               for layer in resources(templates[env], "AWS::Lambda::LayerVersion").values()}
    return path


@pytest.fixture(scope="module")
def host_layer() -> dependencies.Layer:
    return build_layer(host_target())


@pytest.fixture(scope="module")
def handlers(templates: dict[str, Any]) -> set[str]:
    return {f["Properties"]["Handler"] for env in templates
            for f in resources(templates[env], "AWS::Lambda::Function").values()}


def _import(imports: list[str], *, path: list[Path], cwd: Path, pycache: Path) -> dict[str, Any]:
    """Import `imports` ("module" or "module:attr") in a fresh ``python -S -E`` with only `path`."""
    stdlib = sorted({sysconfig.get_path("stdlib"), sysconfig.get_path("platstdlib")})
    spec = {"path": [str(p) for p in path], "imports": imports, "stdlib": stdlib}
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "AWS_REGION": "eu-central-1",
           "AWS_DEFAULT_REGION": "eu-central-1", "LAMBDA_TASK_ROOT": str(cwd),
           "AWS_LAMBDA_FUNCTION_NAME": "oms-test-import"}
    # -X pycache_prefix: compiled modules go to a scratch directory, not into the asset or the layer.
    done = subprocess.run([sys.executable, "-S", "-E", "-X", f"pycache_prefix={pycache}", "-c", CHILD,
                           json.dumps(spec)], cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


def _asset_modules(code_asset: Path) -> list[str]:
    """Every module the code asset ships, as a dotted name."""
    modules = []
    for file in sorted((code_asset / "functions").rglob("*.py")):
        parts = list(file.relative_to(code_asset).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules.append(".".join(parts))
    return modules


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _deferred_imports(code_asset: Path) -> dict[str, str]:
    """Every absolute import of a module outside the asset and the standard library, wherever it
    stands (inside a function too: libraries imported on first use), except ``if TYPE_CHECKING:``
    blocks; the dotted module → the first file that imports it."""
    found: dict[str, str] = {}

    def visit(node: ast.AST, file: str) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child, file)
            return
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        for name in names:
            top = name.partition(".")[0]
            if top not in sys.stdlib_module_names and top not in {"functions", "__future__"}:
                found.setdefault(name, file)
        for child in ast.iter_child_nodes(node):
            visit(child, file)

    for file in sorted((code_asset / "functions").rglob("*.py")):
        visit(ast.parse(file.read_text(), str(file)), str(file.relative_to(code_asset)))
    return found


@pytest.mark.timeout(600)
def test_every_handler_imports_with_only_the_code_asset_and_the_layer(
    handlers: set[str], code_asset: Path, host_layer: dependencies.Layer, tmp_path: Path
) -> None:
    # Given each handler named in the templates, each in a fresh interpreter as a cold start is
    by_module: dict[str, list[str]] = {}
    for handler in sorted(handlers):
        module, _, attr = handler.rpartition(".")
        by_module.setdefault(module, []).append(f"{module}:{attr}")
    assert len(handlers) >= 14
    failures, foreign, collector = {}, {}, {}
    for module, imports in by_module.items():
        # When it is imported with the asset and the layer only
        result = _import(imports, path=[code_asset, host_layer.python_dir], cwd=code_asset, pycache=tmp_path)
        failures.update(result["failures"])
        if result["foreign"]:
            foreign[module] = result["foreign"]
        if not (result["gc"]["enabled"] and result["gc"]["frozen"] > 0):
            collector[module] = result["gc"]
        assert not any("site-packages" in p for p in result["sys_path"]), result["sys_path"]
    # Then every handler is there, and nothing came from outside the asset, layer and stdlib
    assert failures == {}
    assert foreign == {}
    # and none leaves the garbage collector paused after its init (functions/__init__.py): each
    # handler's building ended the pause, with the init's objects frozen
    assert collector == {}


@pytest.mark.timeout(300)
def test_every_module_in_the_code_asset_imports_with_only_the_layer(
    code_asset: Path, host_layer: dependencies.Layer, tmp_path: Path
) -> None:
    # Given every module the asset ships: adapters import their library only when first used
    # (functions.invoice.adapters.stripe imports stripe inside its methods' module, not the handler)
    modules = _asset_modules(code_asset)
    assert "functions.platform.handlers.api" in modules and len(modules) > 50
    # When they are all imported in one fresh interpreter with the asset and the layer only
    result = _import(modules, path=[code_asset, host_layer.python_dir], cwd=code_asset, pycache=tmp_path)
    # Then each of them imports
    assert result["failures"] == {}
    assert result["foreign"] == []


@pytest.mark.timeout(300)
def test_every_library_the_code_imports_on_first_use_is_in_the_layer(
    code_asset: Path, host_layer: dependencies.Layer, tmp_path: Path
) -> None:
    # Given every third-party module the asset's code imports, at module level or inside a
    # function (boto3 when the first client is made, a payment library when the first payment is)
    imports = _deferred_imports(code_asset)
    assert {"boto3", "pydantic"} <= {name.partition(".")[0] for name in imports}
    # When each is imported with the asset and the layer only
    result = _import(sorted(imports), path=[code_asset, host_layer.python_dir], cwd=code_asset, pycache=tmp_path)
    # Then none is missing (the file that needs it is named)
    assert {name: (imports[name], error) for name, error in result["failures"].items()} == {}
    assert result["foreign"] == []


@pytest.mark.timeout(120)
def test_without_the_layer_a_handler_does_not_import(handlers: set[str], code_asset: Path, tmp_path: Path) -> None:
    # Given the same fresh interpreter with the code asset only (no layer)
    handler = next(h for h in sorted(handlers) if h.startswith("functions.platform."))
    module, _, attr = handler.rpartition(".")
    # When the handler is imported
    result = _import([f"{module}:{attr}"], path=[code_asset], cwd=code_asset, pycache=tmp_path)
    # Then it fails for a third-party package: the sandbox lends nothing from this venv
    (error,) = result["failures"].values()
    assert error.startswith("ModuleNotFoundError: No module named 'aws_lambda_powertools"), error


def test_lambda_layer_holds_exactly_the_locked_runtime_dependencies(
    lambda_layer: Path, host_layer: dependencies.Layer
) -> None:
    locked = {(pin.name, pin.version) for pin in parse_requirements(dependencies.export_requirements(), LAMBDA)}
    in_layer = distributions(lambda_layer / "python")
    # the layer holds the lock's runtime closure, the same as the host build the imports used
    assert in_layer == locked
    assert distributions(host_layer.python_dir) == in_layer
    names = {name for name, _ in in_layer}
    assert {"aws-lambda-powertools", "pydantic", "pydantic-core", "boto3", "botocore"} <= names
    # and nothing of the development groups (local cloud, CDK, tests, CLI)
    assert not names & {"moto", "aws-cdk-lib", "pytest", "typer", "rich", "cfn-lint", "werkzeug"}


def test_lambda_layer_is_built_for_python_3_13_on_arm64(lambda_layer: Path) -> None:
    python = lambda_layer / "python"
    extensions = sorted(p.name for p in python.rglob("*.so"))
    assert any(name.startswith("_pydantic_core.") for name in extensions)
    for name in extensions:
        assert name.endswith((".cpython-313-aarch64-linux-gnu.so", ".abi3.so")), name
    for wheel in python.glob("*.dist-info/WHEEL"):
        tags = [line.split(": ", 1)[1] for line in wheel.read_text().splitlines() if line.startswith("Tag: ")]
        assert tags, wheel
        for tag in tags:
            interpreter, abi, platform = tag.split("-")
            assert platform == "any" or ("aarch64" in platform and "linux" in platform), (wheel, tag)
            assert abi in {"none", "abi3", "cp313"}, (wheel, tag)
            assert interpreter in {"py2", "py3", "cp313"} or (interpreter.startswith("cp3") and abi == "abi3"), tag


def test_lambda_layer_is_reproducible(lambda_layer: Path, tmp_path: Path) -> None:
    python = lambda_layer / "python"
    # bytecode only from a CPython 3.13 (none on a machine without one), no console scripts
    # (their shebang names the machine that built them)
    compiled = sorted(python.rglob("*.pyc"))
    if build_layer(LAMBDA).bytecode:
        assert len(compiled) == len(list(python.rglob("*.py")))
    else:
        assert not list(python.rglob("__pycache__")) and not compiled
    assert not (python / "bin").exists()
    assert not [r for r in python.glob("*.dist-info/RECORD") if "../" in r.read_text()]
    # the staged asset is the cached build, and a build from scratch gives the same files: the
    # asset hash (and so the published layer version) changes only with the lock
    cached = build_layer(LAMBDA)
    assert dependencies.tree_digest(python) == dependencies.tree_digest(cached.python_dir)
    fresh = build_layer(LAMBDA, cache_dir=tmp_path)
    assert fresh.directory != cached.directory
    assert dependencies.tree_digest(fresh.python_dir) == dependencies.tree_digest(cached.python_dir)


@pytest.mark.timeout(300)
@pytest.mark.skipif(dependencies.bytecode_compiler(LAMBDA) is None,
                    reason=f"no CPython 3.13 here (python3.13 on PATH or ${dependencies.BYTECODE_PYTHON_ENV})")
def test_with_a_cpython_3_13_the_layer_ships_bytecode_that_python_uses(tmp_path: Path) -> None:
    compiler = dependencies.bytecode_compiler(LAMBDA)
    assert compiler is not None
    # Given a layer built where a CPython 3.13 is at hand
    layer = build_layer(LAMBDA, cache_dir=tmp_path / "cache")
    assert layer.bytecode == compiler[1]
    sources = sorted(layer.python_dir.rglob("*.py"))
    compiled = sorted(layer.python_dir.rglob("*.cpython-313.pyc"))
    assert len(compiled) == len(sources) > 500
    # every .pyc is hash-based and unchecked (flags 0b01): no source mtime, nothing to stat on import
    assert {int.from_bytes(pyc.read_bytes()[4:8], "little") for pyc in compiled} == {1}
    # When a pure-Python package's source is replaced, its bytecode kept
    shutil.copytree(layer.python_dir / "jmespath", tmp_path / "site" / "jmespath")
    (tmp_path / "site" / "jmespath" / "__init__.py").write_text("raise SystemExit('the source was compiled')\n")
    # Then Python 3.13 imports it from the bytecode
    done = subprocess.run([compiler[0], "-S", "-E", "-B", "-c",
                           f"import sys; sys.path[:0] = [{str(tmp_path / 'site')!r}]; import jmespath; "
                           "print(jmespath.search('a', {'a': 1}))"], capture_output=True, text=True, timeout=60,
                          check=False)
    assert (done.returncode, done.stdout.strip()) == (0, "1"), done.stderr


def test_a_bytecode_interpreter_of_another_version_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # this interpreter is not 3.13 (the project's venv runs 3.11 .. 3.13)
    if sys.version_info[:2] == (3, 13):
        pytest.skip("this interpreter is a 3.13")
    monkeypatch.setenv(dependencies.BYTECODE_PYTHON_ENV, sys.executable)
    with pytest.raises(dependencies.LayerBuildError, match=r"is not a CPython 3\.13"):
        dependencies.bytecode_compiler(LAMBDA)


def test_a_second_build_is_the_cached_one_without_pip(monkeypatch: pytest.MonkeyPatch) -> None:
    first = build_layer(LAMBDA)

    def no_pip(*_: object) -> None:
        raise AssertionError("pip ran although the same requirements were built before")

    monkeypatch.setattr(dependencies, "_pip_install", no_pip)
    assert build_layer(LAMBDA).directory == first.directory


def test_function_and_layer_fit_lambdas_unzipped_limit(code_asset: Path, lambda_layer: Path) -> None:
    total = dependencies.unzipped_size(code_asset) + dependencies.unzipped_size(lambda_layer)
    # Lambda refuses a function whose code and layers exceed it (~35 MB now; with the invoicing
    # packages to come, Pillow, fonttools and lxml among them, ~130 MB)
    assert total < dependencies.LAMBDA_UNZIPPED_LIMIT_BYTES, total


@pytest.mark.parametrize("env", DEPLOYED)
def test_every_deployed_function_uses_the_one_dependencies_layer(templates: dict[str, Any], env: str) -> None:
    template = templates[env]
    ((layer_id, layer),) = resources(template, "AWS::Lambda::LayerVersion").items()
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"]
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
    assert layer["Properties"]["LayerName"] == f"oms-{env}-dependencies"
    for function in resources(template, "AWS::Lambda::Function").values():
        assert function["Properties"]["Layers"] == [{"Ref": layer_id}]
        assert function["Properties"]["Architectures"] == ["arm64"]


def test_local_has_no_layer(templates: dict[str, Any]) -> None:
    # infra/environments.py: the local runtime imports handlers from the venv (same lock)
    local = templates["local"]
    assert not resources(local, "AWS::Lambda::LayerVersion")
    assert all("Layers" not in f["Properties"] for f in resources(local, "AWS::Lambda::Function").values())


# -- the requirements a build takes from the export (no CDK, no network) --------------------

EXPORT = """\
alpha==1.0 \\
    --hash=sha256:aaaa
beta==2.0 ; python_full_version < '3.12' \\
    --hash=sha256:bbbb \\
    --hash=sha256:bbbc
gamma==3.0 ; platform_machine == 'x86_64' \\
    --hash=sha256:cccc
delta==4.0 ; sys_platform == 'win32' \\
    --hash=sha256:dddd
"""

HOST_311 = Target(name="t", platforms=("manylinux2014_x86_64",), python_version="3.11", platform_machine="x86_64")


def test_markers_are_evaluated_for_the_target_not_this_machine() -> None:
    # Python 3.13 on aarch64: neither the 3.11 backport nor the x86_64-only package
    assert [(p.name, p.version) for p in parse_requirements(EXPORT, LAMBDA)] == [("alpha", "1.0")]
    # Python 3.11 on x86_64: both
    pins = parse_requirements(EXPORT, HOST_311)
    assert [p.name for p in pins] == ["alpha", "beta", "gamma"]
    assert pins[1].line() == "beta==2.0 --hash=sha256:bbbb --hash=sha256:bbbc"


@pytest.mark.parametrize("line", ["alpha>=1.0 --hash=sha256:aaaa", "alpha==1.0", "-e ./somewhere"])
def test_only_hashed_exact_pins_are_accepted(line: str) -> None:
    with pytest.raises(dependencies.LayerBuildError):
        parse_requirements(line + "\n", LAMBDA)


def test_the_cache_key_follows_requirements_and_target() -> None:
    text = dependencies.render(parse_requirements(EXPORT, LAMBDA))
    assert dependencies.cache_key(text, LAMBDA) == dependencies.cache_key(text, LAMBDA)
    assert dependencies.cache_key(text, LAMBDA) != dependencies.cache_key(text + "x==1\n", LAMBDA)
    assert dependencies.cache_key(text, LAMBDA) != dependencies.cache_key(text, HOST_311)
