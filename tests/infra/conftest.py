"""One session-scoped CDK App with every environment, synthesized once (with cdk-nag).

Synthesis is the expensive part (one jsii boot, ~10 s); every test reads the synthesized
templates as plain JSON. Only this tier imports aws_cdk.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

from infra.app import build_app
from infra.config import ENVIRONMENTS
from infra.stack import OmsStack

Template = dict[str, Any]


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, OmsStack]]:
    app, stacks = build_app(ENVIRONMENTS, outdir=str(tmp_path_factory.mktemp("cdk.out")))
    assembly = app.synth()  # raises RuntimeError("ValidationFailed ...") on any nag finding
    return Path(assembly.directory), stacks


@pytest.fixture(scope="session")
def assembly_dir(synthesized: tuple[Path, dict[str, OmsStack]]) -> Path:
    return synthesized[0]


@pytest.fixture(scope="session")
def templates(assembly_dir: Path) -> dict[str, Template]:
    return {env: json.loads((assembly_dir / f"Oms-{env}.template.json").read_text()) for env in ENVIRONMENTS}


@pytest.fixture(params=ENVIRONMENTS)
def env_template(request: pytest.FixtureRequest, templates: dict[str, Template]) -> tuple[str, Template]:
    return request.param, templates[request.param]
