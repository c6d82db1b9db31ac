"""``oms nodes`` and node keys, as an operator runs them against the local stack: the installed
console script in a subprocess, then the API as the new node and an agent see the result."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import KEYS
from tests.e2e.test_nodes_api import NODE, node_id
from tests.e2e.test_oms_cli import issued_key, oms, port_of

AGENT = {"x-api-key": KEYS["agent"]}


@pytest.mark.timeout(240)
def test_operator_opens_a_node_issues_its_key_and_pauses_it(stack: str, http: httpx.Client, tmp_path: Path) -> None:
    nid = node_id("DC-OMS")
    port = port_of(stack)
    # Given no node yet: a node key for it is refused, naming what to do
    refused = oms("keys", "issue", "--role", "node", "--principal", nid, port=port)
    assert refused.returncode == 1 and f"no node {nid}" in refused.stderr and "oms nodes put" in refused.stderr
    # When the operator creates it from a file
    node_file = tmp_path / "node.json"
    node_file.write_text(json.dumps({**NODE, "name": "Opened by oms"}))
    created = oms("nodes", "put", nid, "--file", str(node_file), port=port)
    # Then the API shows it as written, and its key can be issued and reads it
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["node_id"] == nid and "created" in created.stderr
    assert http.get(f"/nodes/{nid}", headers=AGENT).json()["name"] == "Opened by oms"
    node = {"x-api-key": issued_key(oms("keys", "issue", "--role", "node", "--principal", nid, port=port))}
    assert http.get("/nodes", headers=node).json()["nodes"][0]["node_id"] == nid
    assert http.get("/shipments", headers=node).json()["shipments"] == []
    # When the operator pauses it with an option (the rest of the node stays as it was)
    paused = oms("nodes", "put", nid, "--inactive", port=port)
    assert paused.returncode == 0, paused.stderr
    view = http.get(f"/nodes/{nid}", headers=AGENT).json()
    assert view["active"] is False and view["name"] == "Opened by oms" and view["version"] == 2
    # And the listing shows every node, this one as inactive
    listed = oms("nodes", "list", port=port)
    assert listed.returncode == 0, listed.stderr
    (row,) = [line for line in listed.stdout.splitlines() if nid in line]
    assert "DC-BERLIN" in listed.stdout and "STORE-MUNICH" in listed.stdout and " no " in row


def test_a_bad_node_file_is_one_red_line_naming_the_field(stack: str, tmp_path: Path) -> None:
    node_file = tmp_path / "node.json"
    node_file.write_text(json.dumps({**NODE, "timezone": "Europe/Atlantis"}))
    result = oms("nodes", "put", node_id("DC-OMS"), "--file", str(node_file), port=port_of(stack))
    assert result.returncode == 1 and "timezone" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
