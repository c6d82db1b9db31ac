"""CDK app entry: `cdk synth -c env=local|dev|staging|prod|all` (cdk.json runs this module).

Also importable: `build_app()` is what infra/synth.py and tests/infra use, so the CLI, `make
synth`, localcloud and the tests all synthesize the same templates.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from infra import environments, nag
from infra.config import ALL, CONFIGS, REPO_ROOT, resolve_environments
from infra.stack import OmsStack

CDK_JSON = REPO_ROOT / "cdk.json"
DEFAULT_ENV = ALL  # `cdk deploy` still asks for a stack name when the app has several
# What the CDK CLI adds to the context of every synth; set here too, so `python -m infra.synth`
# writes byte-for-byte what `cdk synth` writes (path metadata even feeds the API Deployment's
# logical id). Version reporting is still off for `local` (see environments.py).
CLI_CONTEXT = {
    "aws:cdk:enable-path-metadata": True,
    "aws:cdk:enable-asset-metadata": True,
    "aws:cdk:version-reporting": True,
}


def load_cdk_context() -> dict[str, Any]:
    """cdk.json's context (feature flags). Only the CDK CLI reads cdk.json by itself; without
    these flags a plain `cdk.App()` silently synthesizes a different template."""
    context: dict[str, Any] = json.loads(CDK_JSON.read_text(encoding="utf-8"))["context"]
    return context


def add_stacks(app: cdk.App, env_names: Iterable[str]) -> dict[str, OmsStack]:
    names = tuple(env_names)
    stacks: dict[str, OmsStack] = {}
    for name in names:
        stack = OmsStack(app, config=CONFIGS[name])
        nag.acknowledge(stack)
        stacks[name] = stack
    if environments.runs_cdk_nag(names):
        # cdk-nag 3 is a policy-validation plugin: synth raises on any unacknowledged finding.
        cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
    return stacks


def build_app(
    env_names: Iterable[str],
    *,
    outdir: str | None = None,
    context: Mapping[str, Any] | None = None,
) -> tuple[cdk.App, dict[str, OmsStack]]:
    """An App with cdk.json's context (plus `context`) and the stacks of `env_names`."""
    app = cdk.App(outdir=outdir, context={**load_cdk_context(), **CLI_CONTEXT, **(context or {})})
    return app, add_stacks(app, env_names)


def main() -> None:
    # Under the CDK CLI, context (cdk.json + `-c`) arrives in CDK_CONTEXT_JSON and cdk.App()
    # reads it; run directly (`python -m infra.app`), load cdk.json ourselves.
    context = None if "CDK_CONTEXT_JSON" in os.environ else {**load_cdk_context(), **CLI_CONTEXT}
    app = cdk.App(context=context)
    add_stacks(app, resolve_environments(app.node.try_get_context("env") or DEFAULT_ENV))
    app.synth()


if __name__ == "__main__":
    main()
