"""``oms nodes put`` reads a node file with the API's rules: an invalid node is refused naming
its fields in the API's words, without loading the Lambda functions' HTTP layer (Powertools'
event handler) into the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, sys
from oms.failures import OmsError
from oms.nodes import _definition
try:
    _definition({"type": "DC", "address": {"country": "Germany"}, "priority": 1, "cut_off": "15:00",
                 "timezone": "UTC", "colour": "blue"})
except OmsError as refused:
    message = str(refused)
loaded = sorted(m for m in sys.modules if m.startswith("aws_lambda_powertools"))
print(json.dumps({"message": message, "powertools": loaded, "http": "functions.core.handlers.http" in sys.modules}))
"""


@pytest.mark.timeout(60)
def test_an_invalid_node_file_is_refused_naming_its_fields_as_the_api_does() -> None:
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=50,
                            check=False)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    # the API's 422 words (core/field_errors.py): "is required", "is not a known field", dotted paths
    assert seen["message"].startswith("the node is not valid: "), seen
    problems = set(seen["message"].removeprefix("the node is not valid: ").split("; "))
    assert {"name: is required", "colour: is not a known field"} <= problems, problems
    assert any(p.startswith("address.country: ") for p in problems), problems
    # and the command line did not load the Lambda HTTP layer to say so
    assert seen["http"] is False and seen["powertools"] == [], seen
