"""A function's init runs with the cyclic garbage collector paused, and only there
(functions/__init__.py): the handler's building ends the pause, with the init's objects frozen."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CODE = """
import gc, json
import functions
paused = not gc.isenabled()
import functions.route.handlers.api
print(json.dumps({"paused_at_init": paused, "enabled": gc.isenabled(), "frozen": gc.get_freeze_count()}))
"""


def _run(extra_env: dict[str, str]) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if k not in ("LAMBDA_TASK_ROOT", "AWS_LAMBDA_FUNCTION_NAME")}
    env.update({"AWS_DEFAULT_REGION": "eu-central-1", "TABLE_NAME": "t", **extra_env})
    done = subprocess.run([sys.executable, "-c", CODE], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60, check=True)
    result: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return result


@pytest.mark.timeout(60)
def test_in_a_lambda_sandbox_the_init_runs_without_collections_and_the_handler_ends_the_pause() -> None:
    # Given the variables the Lambda runtime sets before it imports the handler
    # When the handler module is imported in a fresh interpreter
    result = _run({"LAMBDA_TASK_ROOT": str(ROOT), "AWS_LAMBDA_FUNCTION_NAME": "oms-test-route-api"})
    # Then the collector was paused during the init, and runs again once the handler is built,
    # the init's objects in its permanent generation
    assert result["paused_at_init"] is True
    assert result["enabled"] is True
    assert isinstance(result["frozen"], int) and result["frozen"] > 10_000


@pytest.mark.timeout(60)
def test_outside_a_sandbox_the_collector_is_left_alone() -> None:
    # Given no Lambda runtime variables (tests, the local cloud's in-process runtime, oms)
    # When the same handler is imported
    result = _run({})
    # Then nothing was paused or frozen
    assert result == {"paused_at_init": False, "enabled": True, "frozen": 0}
