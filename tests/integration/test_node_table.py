"""Node writes on the local cloud: two agents changing one node at the same moment never
interleave (each write is conditional on the version it read; the last whole-node PUT wins), and
every write moves the network's version the Plan task checks."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import boto3
import pytest

from functions.core.adapters.node_network import NetworkReader
from functions.core.errors import Conflict
from functions.route.adapters.node_table import NodeTable
from functions.route.models import NodeIn
from functions.route.nodes import ManagedNode
from localcloud.server import LocalCloud

BODY: dict[str, Any] = {"type": "STORE", "name": "Store Cologne", "address": {"city": "Köln", "country": "DE"},
                        "priority": 3, "cut_off": "12:00", "timezone": "Europe/Berlin"}


def node(node_id: str, version: int, **changes: Any) -> ManagedNode:
    return ManagedNode(node_id=node_id, definition=NodeIn.model_validate({**BODY, **changes}).to_command(),
                       version=version, created_at="2026-12-01T10:00:00.000Z", updated_at="2026-12-01T10:00:00.000Z",
                       updated_by="agent:test")


@pytest.mark.timeout(60)
def test_two_writes_of_one_node_at_once_one_is_refused(cloud: LocalCloud, outputs: dict[str, str]) -> None:
    table = outputs["TableName"]
    node_id = f"STORE-{uuid.uuid4().hex[:6].upper()}"
    NodeTable(table).put(node(node_id, 1), expected_version=None)
    before = NetworkReader(table).version()
    # Given four agents who all read version 1 and each change something else
    start = threading.Barrier(4, timeout=10)
    outcomes: list[str] = []

    def change(i: int) -> None:
        store = NodeTable(table, boto3.client("dynamodb"))  # each with its own client, as separate functions
        start.wait()
        try:
            store.put(node(node_id, 2, priority=10 + i), expected_version=1)
            outcomes.append(f"written {i}")
        except Conflict:
            outcomes.append("refused")

    threads = [threading.Thread(target=change, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    # Then exactly one write landed, the others were refused (not overwritten blindly)
    written = [o for o in outcomes if o.startswith("written")]
    assert len(outcomes) == 4 and len(written) == 1 and outcomes.count("refused") == 3, outcomes
    stored = NodeTable(table).get(node_id)
    assert stored is not None and stored.version == 2
    assert stored.definition.priority == 10 + int(written[0].split()[1])
    # And the network's version moved once for the one write
    assert NetworkReader(table).version() == before + 1
    assert node_id in {n.node_id for n in NetworkReader(table).nodes()}


def test_a_new_node_is_refused_over_an_existing_one(cloud: LocalCloud, outputs: dict[str, str]) -> None:
    table = outputs["TableName"]
    node_id = f"STORE-{uuid.uuid4().hex[:6].upper()}"
    NodeTable(table).put(node(node_id, 1), expected_version=None)
    with pytest.raises(Conflict):
        NodeTable(table).put(node(node_id, 1, name="Someone else's"), expected_version=None)
    stored = NodeTable(table).get(node_id)
    assert stored is not None and stored.definition.name == "Store Cologne"
