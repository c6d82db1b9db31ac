"""`python -m infra.synth`: the assembly localcloud deploys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra import synth

pytestmark = pytest.mark.infra


def test_synth_local_writes_template_and_one_functions_asset(tmp_path: Path):
    assert synth.main(["--env", "local", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "Oms-local.template.json").is_file()
    assets = json.loads((tmp_path / "Oms-local.assets.json").read_text())
    file_assets = list(assets["files"].values())
    code = [a for a in file_assets if a["source"]["packaging"] == "zip"]
    assert len(code) == 1
    asset_dir = tmp_path / code[0]["source"]["path"]
    assert (asset_dir / "functions" / "__init__.py").is_file()
    top_level = {child.name for child in asset_dir.iterdir()}
    assert top_level == {"functions"}
    assert not list(asset_dir.rglob("__pycache__")) and not list(asset_dir.rglob("*.pyc"))
