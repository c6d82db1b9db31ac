"""The dependencies layer: every third-party package a function imports, built without Docker.

The functions' code asset is `functions/` and nothing else; what it imports from outside the
standard library ships in ONE Lambda layer, built here from the lock file:

1. ``uv export --frozen --no-default-groups --no-emit-project``: `[project.dependencies]` of
   pyproject.toml and everything they pull in, exactly as uv.lock pins them, with their hashes
   (no dependency group: moto, CDK, pytest, typer ... never reach a function);
2. each requirement's environment marker evaluated for the TARGET (Python 3.13, Linux, aarch64),
   not for this machine: pip would evaluate them for the interpreter that runs it;
3. ``pip install --no-deps --only-binary=:all: --platform manylinux2014_aarch64 (and every
   manylinux_2_X_aarch64 up to glibc 2.34, Amazon Linux 2023's) --implementation cp
   --python-version 3.13 --target <dir>/python``: wheels only, for the functions' runtime and
   architecture, so no compiler and no Docker; ``--no-deps`` because the export is already the
   whole locked closure, and the hashes make pip refuse anything else.

The result is cached under ``.cache/layers/`` keyed by a hash of the rendered requirements and
the target: a second synth with the same lock runs no pip and downloads nothing. The directory is
made reproducible (no ``__pycache__``/``*.pyc`` from the wheels, no ``bin/`` console scripts whose
shebang names this machine's interpreter, no RECORD lines for them), so the CDK asset hash of the
layer changes only when a pinned version does, and a deploy without a dependency change
publishes no new layer version. Where a CPython 3.13 is at hand (``$OMS_LAYER_BYTECODE_PYTHON``
or ``python3.13`` on PATH) the layer also ships unchecked-hash bytecode compiled by it, which
is reproducible too and spares every cold start compiling the modules it imports (about half
of boto3's import and first client, measured with 3.13); see :func:`bytecode_compiler`.

boto3 ships in the layer too, on purpose: the Lambda runtime's copy is whatever version AWS
updated it to last (older than the pinned one, and it changes under a deployed function without
a deploy); the layer's is the version in uv.lock that the tests ran against. AWS's own guidance
for production is to package the SDK with the function. The layer's ``python/`` directory is on
``sys.path`` before the runtime's packages, so the runtime's boto3 is never imported; it costs
about 25 MB of the 250 MB (unzipped) a function and its layers may take.

The same builder makes a HOST build (this machine's platform and Python) of the same
requirements: compiled wheels for aarch64 (pydantic_core) cannot be imported on an x86_64
workstation, so the import test (tests/infra/test_dependencies.py) and the cold-start bench
(bench/coldstart.py) use the host build and check that it holds the same distributions as the
Lambda one.

This is tooling (synth, tests, bench): it imports neither aws_cdk nor anything from functions/.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.tags import platform_tags
from packaging.utils import canonicalize_name

REPO_ROOT = Path(__file__).resolve().parent.parent
CACHE_DIR = REPO_ROOT / ".cache" / "layers"
UV = REPO_ROOT / ".tools" / "bin" / "uv"
#: pip runs from the tools venv the Makefile makes (`python3 -m venv .tools`, beside uv); the
#: project's .venv is made by uv and has no pip.
PIP_PYTHON = REPO_ROOT / ".tools" / "bin" / "python"
#: Bump when the build steps change what lands in the directory (it is part of the cache key).
BUILD_FORMAT = "1"
#: A CPython of the runtime's minor version to compile the layer's bytecode with (bytecode_compiler).
BYTECODE_PYTHON_ENV = "OMS_LAYER_BYTECODE_PYTHON"
#: What Lambda allows a function and all its layers together, unzipped.
LAMBDA_UNZIPPED_LIMIT_BYTES = 250 * 1024 * 1024


class LayerBuildError(RuntimeError):
    """uv or pip failed; the message carries their output."""


@dataclass(frozen=True)
class Target:
    """The interpreter and platform a build is for."""

    name: str  # part of the cache directory's name
    platforms: tuple[str, ...]  # pip --platform values (wheel platform tags)
    python_version: str  # "3.13"
    implementation: str = "cp"
    # ship bytecode when a CPython of `python_version` is at hand (see bytecode_compiler)
    bytecode: bool = False
    # PEP 508 marker environment, as it is on the target
    sys_platform: str = "linux"
    platform_machine: str = "aarch64"
    platform_system: str = "Linux"

    def marker_environment(self) -> dict[str, str]:
        return {
            "python_version": self.python_version,
            "python_full_version": f"{self.python_version}.0",
            "implementation_name": "cpython" if self.implementation == "cp" else self.implementation,
            "implementation_version": f"{self.python_version}.0",
            "platform_python_implementation": "CPython" if self.implementation == "cp" else self.implementation,
            "sys_platform": self.sys_platform,
            "platform_machine": self.platform_machine,
            "platform_system": self.platform_system,
            "os_name": "posix" if self.sys_platform != "win32" else "nt",
            "platform_release": "",
            "platform_version": "",
        }


#: The python3.13 runtime runs on Amazon Linux 2023, whose glibc is 2.34: a manylinux wheel for
#: glibc 2.34 or older runs there. pip does not widen a `manylinux_2_X` tag to older ones (only
#: manylinux2014 → 2010 → 1), so every tag is named: the newest is preferred, and a package that
#: no longer publishes manylinux2014 wheels (Pillow 13 has only manylinux_2_28 for aarch64) still
#: installs.
RUNTIME_GLIBC_MINOR = 34


def manylinux_platforms(arch: str, glibc_minor: int = RUNTIME_GLIBC_MINOR) -> tuple[str, ...]:
    """pip --platform values for every manylinux wheel a glibc 2.`glibc_minor` system runs."""
    return (*(f"manylinux_2_{minor}_{arch}" for minor in range(glibc_minor, 16, -1)), f"manylinux2014_{arch}")


#: The functions' runtime: Python 3.13 on arm64 (infra/constructs/functions.py RUNTIME, ARCHITECTURE).
LAMBDA = Target(name="lambda-cp313-aarch64", platforms=manylinux_platforms("aarch64"), python_version="3.13",
                bytecode=True)


def host_target() -> Target:
    """This interpreter on this machine: the build the import test and the bench can import."""
    machine = platform.machine().lower()
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    if sys.platform.startswith("linux"):
        # The same wheel policy as the Lambda build, for this machine's architecture, less the
        # tags this machine's glibc cannot run.
        runs_here = set(platform_tags())
        platforms: tuple[str, ...] = tuple(tag for tag in manylinux_platforms(machine) if tag in runs_here)
    else:  # a workstation that is not Linux: every wheel tag this interpreter accepts
        platforms = tuple(platform_tags())
    return Target(
        name=f"host-cp{version.replace('.', '')}-{sys.platform}-{machine}",
        platforms=platforms,
        python_version=version,
        sys_platform=sys.platform,
        platform_machine=platform.machine(),
        platform_system=platform.system(),
    )


# -- requirements ---------------------------------------------------------------------------


def export_requirements() -> str:
    """The runtime dependencies as uv.lock pins them (requirements.txt format, with hashes)."""
    if not UV.exists():
        raise LayerBuildError(f"{UV} is missing: run `make install` first")
    command = [str(UV), "export", "--frozen", "--no-default-groups", "--no-emit-project", "--no-header",
               "--no-annotate", "--format", "requirements-txt"]
    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise LayerBuildError(f"uv export failed ({done.returncode}):\n{done.stderr}")
    return done.stdout


@dataclass(frozen=True)
class Pin:
    name: str  # canonical (PEP 503) name
    version: str
    hashes: tuple[str, ...]

    def line(self) -> str:
        return " ".join([f"{self.name}=={self.version}", *(f"--hash={h}" for h in self.hashes)])


def parse_requirements(text: str, target: Target) -> list[Pin]:
    """uv's export → the pins that apply on `target` (markers evaluated there), sorted by name."""
    pins: list[Pin] = []
    for entry in text.replace("\\\n", " ").splitlines():
        entry = "" if entry.lstrip().startswith("#") else entry.split(" #", 1)[0].strip()
        if not entry:
            continue
        hashes = tuple(re.findall(r"--hash=(\S+)", entry))
        spec = re.sub(r"--hash=\S+", "", entry).strip()
        if spec.startswith("-"):
            raise LayerBuildError(f"unexpected option in the exported requirements: {spec!r}")
        requirement = Requirement(spec)
        if requirement.marker is not None and not requirement.marker.evaluate(target.marker_environment()):
            continue
        specifiers = list(requirement.specifier)
        if len(specifiers) != 1 or specifiers[0].operator != "==" or requirement.url:
            raise LayerBuildError(f"not an exact pin: {spec!r} (the export must come from uv.lock)")
        if not hashes:
            raise LayerBuildError(f"no hash for {spec!r}")
        pins.append(Pin(canonicalize_name(requirement.name), specifiers[0].version, hashes))
    return sorted(pins, key=lambda p: p.name)


def render(pins: list[Pin]) -> str:
    return "".join(pin.line() + "\n" for pin in pins)


def cache_key(requirements: str, target: Target, bytecode: str | None = None) -> str:
    material = "\n".join([BUILD_FORMAT, target.implementation, target.python_version, *target.platforms,
                          f"bytecode {bytecode or 'none'}", requirements])
    return hashlib.sha256(material.encode()).hexdigest()[:16]


# -- the build ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Layer:
    """A built layer: ``directory`` is the asset (it holds ``python/``)."""

    directory: Path
    target: Target
    pins: tuple[Pin, ...]
    key: str
    bytecode: str | None = None  # the CPython version that compiled the .pyc it ships, if any

    @property
    def python_dir(self) -> Path:
        return self.directory / "python"


def build_layer(target: Target = LAMBDA, *, cache_dir: Path = CACHE_DIR, requirements: str | None = None) -> Layer:
    """The layer for `target`, from the cache when the same requirements were built before."""
    pins = tuple(parse_requirements(export_requirements() if requirements is None else requirements, target))
    text = render(list(pins))
    compiler = bytecode_compiler(target)
    bytecode = compiler[1] if compiler else None
    key = cache_key(text, target, bytecode)
    directory = cache_dir / f"{target.name}-{key}"
    layer = Layer(directory, target, pins, key, bytecode)
    if directory.is_dir():
        return layer
    cache_dir.mkdir(parents=True, exist_ok=True)
    # Built beside its final place and renamed at the end: a build that fails or is interrupted
    # leaves no half directory that a later synth would take for a cached one, and two builds at
    # once (two test runs) both end with one complete directory.
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=cache_dir))
    try:
        (work / "requirements.txt").write_text(text)
        _pip_install(work / "requirements.txt", work / "layer" / "python", target)
        _make_reproducible(work / "layer" / "python")
        if compiler:
            _compile_bytecode(work / "layer" / "python", compiler[0])
        try:
            os.rename(work / "layer", directory)
        except OSError:
            if not directory.is_dir():  # not "another build got there first"
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _prune(cache_dir, target, keep=directory)
    return layer


def _pip_install(requirements: Path, python_dir: Path, target: Target) -> None:
    if not PIP_PYTHON.exists():
        raise LayerBuildError(f"{PIP_PYTHON} is missing: run `make install` first")
    command = [str(PIP_PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
               "--no-input", "--no-deps", "--no-compile", "--only-binary=:all:",
               "--implementation", target.implementation, "--python-version", target.python_version,
               *(option for tag in target.platforms for option in ("--platform", tag)),
               "--target", str(python_dir), "-r", str(requirements)]
    # The pip of .tools must not see this process's venv or a PYTHONPATH of the caller's.
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}}
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)  # noqa: S603
    if done.returncode != 0:
        raise LayerBuildError(f"pip install for {target.name} failed ({done.returncode}):\n"
                              f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}")


def _make_reproducible(python_dir: Path) -> None:
    """Drop what differs from machine to machine or run to run and that no function uses."""
    shutil.rmtree(python_dir / "bin", ignore_errors=True)  # console scripts: shebang = this machine
    for cache in sorted(python_dir.rglob("__pycache__"), reverse=True):
        shutil.rmtree(cache, ignore_errors=True)
    for compiled in python_dir.rglob("*.pyc"):
        compiled.unlink()
    for record in python_dir.glob("*.dist-info/RECORD"):
        # RECORD lists the removed scripts (as ../../bin/...) with the hash of their rewritten
        # shebang: keep only the lines for files inside the layer.
        lines = record.read_text().splitlines(keepends=True)
        record.write_text("".join(line for line in lines if not line.startswith("../")))


def bytecode_compiler(target: Target) -> tuple[str, str] | None:
    """A CPython of the target's minor version to compile the layer's bytecode with, and its
    full version; None when there is none (then the layer ships sources only).

    Lambda cannot write bytecode beside a layer (``/opt`` is read-only), so without .pyc every
    cold start compiles each module it imports from the layer (``make bench`` shows it, ``+lib``).
    Bytecode is per minor version, so only a 3.13 interpreter can make it for python3.13: the one
    ``$OMS_LAYER_BYTECODE_PYTHON`` names (a deploy machine or pipeline; an error if it is not a
    CPython 3.13), else ``python3.13`` on PATH if it runs, else one of pyenv's installed 3.13s.
    None here means sources only, so the layer's content, and its asset hash, differ between a
    machine that compiles and one that does not: compile where you deploy from, or nowhere.
    """
    if not target.bytecode or target.implementation != "cp":
        return None
    configured = os.environ.get(BYTECODE_PYTHON_ENV)
    if configured:
        found, said = _probe(configured, target)
        if found is None:
            raise LayerBuildError(f"${BYTECODE_PYTHON_ENV}={configured} is not a CPython "
                                  f"{target.python_version}: {said}")
        return found
    # python3.13 on PATH (a pyenv shim of a version that is not selected does not run), then
    # pyenv's installed versions, where a workstation or CI image usually keeps its other Pythons
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    candidates = [shutil.which(f"python{target.python_version}"),
                  *sorted(str(p) for p in pyenv.glob(f"{target.python_version}.*/bin/python{target.python_version}"))]
    for candidate in filter(None, candidates):
        found, _ = _probe(candidate, target)
        if found is not None:
            return found
    return None


def _probe(candidate: str, target: Target) -> tuple[tuple[str, str] | None, str]:
    """``(candidate, its full version)`` if it is a CPython of the target's minor version."""
    probe = "import platform, sys; print(platform.python_implementation(), '%d.%d' % sys.version_info[:2], " \
            "platform.python_version())"
    implementation = minor = full = ""
    try:
        done = subprocess.run([candidate, "-c", probe], capture_output=True, text=True, check=False,  # noqa: S603
                              timeout=60)
        said = (done.stdout.strip() or done.stderr.strip())[-500:]
        if done.returncode == 0:
            implementation, minor, full = done.stdout.split()
    except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
        said = f"{type(exc).__name__}: {exc}"
    if implementation == "CPython" and minor == target.python_version:
        return (candidate, full), said
    return None, said


def _compile_bytecode(python_dir: Path, compiler: str) -> None:
    """Unchecked-hash .pyc for every module: no source mtime in them (the zip's dates do not
    matter, and a build is reproducible), and nothing to check at import since a layer never
    changes. Paths in them read /opt/python/..., where Lambda mounts the layer."""
    command = [compiler, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash",
               "-s", str(python_dir), "-p", "/opt/python", str(python_dir)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON") and k != "VIRTUAL_ENV"}
    env["PYTHONHASHSEED"] = "0"  # constants' set order in the bytecode
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)  # noqa: S603
    if done.returncode != 0:
        raise LayerBuildError(f"compileall with {compiler} failed ({done.returncode}):\n"
                              f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}")


def _prune(cache_dir: Path, target: Target, *, keep: Path) -> None:
    """Older builds for the same target (an earlier lock) are never used again."""
    for old in cache_dir.glob(f"{target.name}-*"):
        if old != keep and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)


# -- what a build holds ---------------------------------------------------------------------


def distributions(python_dir: Path) -> set[tuple[str, str]]:
    """(canonical name, version) of every distribution installed in a layer's ``python/``."""
    found: set[tuple[str, str]] = set()
    for info in python_dir.glob("*.dist-info"):
        name, _, version = info.name.removesuffix(".dist-info").rpartition("-")
        found.add((canonicalize_name(name), version))
    return found


def tree_digest(directory: Path) -> str:
    """sha256 over every file's relative path and content: equal digests, equal asset hashes."""
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        digest.update(path.relative_to(directory).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def unzipped_size(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())


def main(argv: list[str] | None = None) -> int:
    """`python -m infra.dependencies [--host]`: build (or find) the layer, print its directory."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m infra.dependencies", description=main.__doc__)
    parser.add_argument("--host", action="store_true", help="build for this machine instead of Lambda")
    args = parser.parse_args(argv)
    layer = build_layer(host_target() if args.host else LAMBDA)
    size = unzipped_size(layer.directory) / 1e6
    print(f"{layer.directory} ({len(layer.pins)} distributions, {size:.1f} MB unzipped)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
