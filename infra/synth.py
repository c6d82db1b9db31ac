"""Synthesize without the CDK CLI: `python -m infra.synth --env local --out cdk.out.local`.

Used by `make synth` (`--env all --out cdk.out`) and by localcloud, which deploys `Oms-local`
from the assembly this writes (template + `*.assets.json` + the zipped-up `functions/` asset).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from infra.app import build_app
from infra.config import ALL, ENVIRONMENTS, resolve_environments


def synth(env: str, out: str | Path) -> Path:
    """Synthesize the stacks of `env` into `out`; returns the assembly directory."""
    app, _ = build_app(resolve_environments(env), outdir=str(out))
    return Path(app.synth().directory)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.synth", description=__doc__)
    parser.add_argument("--env", default=ALL, choices=(*ENVIRONMENTS, ALL))
    parser.add_argument("--out", default="cdk.out", help="cloud assembly directory")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        directory = synth(args.env, args.out)
    except ValueError as exc:  # a refused setting (e.g. the local payment provider outside local)
        print(f"synth refused: {exc}", file=sys.stderr)
        return 2
    elapsed = time.perf_counter() - started
    print(f"synthesized {args.env} into {directory} in {elapsed:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
