"""The CDK cloud assembly of an environment, synthesized once per source change.

Synth costs 5-8 s and ~1 GB (jsii), so the assembly is cached under
``.cache/cdk/<hash>/`` keyed by the content of everything that shapes the template
(``infra/``, ``statemachines/``, ``functions/``, ``cdk.json``); a file lock keeps two processes
(e.g. pytest and ``make up``) from synthesizing into the same directory at once. Synth runs
``python -m infra.synth`` in a subprocess so this process never imports ``aws_cdk``.
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("infra", "statemachines", "functions", "cdk.json")
_IGNORED_DIRS = {"__pycache__", ".mypy_cache", ".pytest_cache"}


def source_hash(root: Path = ROOT, sources: tuple[str, ...] = SOURCES) -> str:
    """Hash of the files that determine the synthesized template (paths and contents)."""
    digest = hashlib.sha256()
    for name in sources:
        base = root / name
        files = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file())
        for path in files:
            if _IGNORED_DIRS.intersection(path.parts) or path.suffix == ".pyc":
                continue
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def ensure_assembly(env: str = "local", root: Path = ROOT) -> Path:
    """The cloud assembly directory for ``env``, synthesizing it if the sources changed."""
    cache = root / ".cache" / "cdk"
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / f"{env}-{source_hash(root)}"
    with (cache / f"{env}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / "manifest.json").exists():
            return target
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        result = subprocess.run(
            [sys.executable, "-m", "infra.synth", "--env", env, "--out", str(partial)],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"synth of {env} failed ({result.returncode}):\n{result.stderr[-4000:]}")
        partial.rename(target)  # atomic: a directory with manifest.json is always complete
        return target
