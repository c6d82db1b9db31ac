"""Node management: agents (and operators, through ``oms nodes``, and the local seed) create and
change the fulfilment network — distribution centres, stores, drop-shippers. One use case for
every entry point, so a node is the same whoever wrote it. No AWS here.

A node's fields are checked where they come in (``models.NodeIn``, shared by the API, the CLI
and the seed); what is decided here: who may see and change which node, that a node id can be
a key, and that a PUT is idempotent (the same definition again writes nothing).

A PUT replaces the whole node (API.md: ``PUT /nodes/{node_id}``): when two agents change one node
at once, the last PUT wins, whole — the other agent's change is replaced, not merged. Each write
is conditional on the version it read; that only keeps two writes from interleaving (a stored
node is always one PUT's whole definition) and keeps the network's version in step with the
nodes. A write refused that way reads again and writes its definition over the other one.
Every write also moves the network's version, which is what makes a change apply to the next
order planned (``adapters/node_cache.py``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from functions.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from functions.core.events import utc_now
from functions.core.principal import Principal
from functions.core.sourcing import Node

from .ports import NodeStore

#: A node id is part of table keys and API paths: letters, digits, ``.``, ``_``, ``-``.
NODE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
#: The shipping methods a node may offer (``NodeIn`` checks them; a node offers every one by default).
ShippingMethod = Literal["standard", "express"]
SHIPPING_METHODS: tuple[ShippingMethod, ...] = get_args(ShippingMethod)


@dataclass(frozen=True)
class NodeAddress:
    country: str
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    postal_code: str | None = None
    region: str | None = None


@dataclass(frozen=True)
class NodeDefinition:
    """What an agent says a node is (the command of ``put``)."""

    node_type: str
    name: str
    address: NodeAddress
    priority: int
    cut_off: str
    timezone: str
    processing_days: int = 0
    daily_capacity: int | None = None
    shipping_methods: tuple[str, ...] = SHIPPING_METHODS
    accepts_returns: bool = True
    active: bool = True


@dataclass(frozen=True)
class ManagedNode:
    """A node as stored: its definition and the write that made it so."""

    node_id: str
    definition: NodeDefinition
    version: int
    created_at: str
    updated_at: str
    updated_by: str

    def sourcing(self) -> Node:
        """What sourcing knows of it (``core/sourcing.py``)."""
        d = self.definition
        return Node(node_id=self.node_id, country=d.address.country, priority=d.priority, kind=d.node_type,
                    cutoff=d.cut_off, active=d.active, timezone=d.timezone)


def node_view(node: ManagedNode) -> dict[str, Any]:
    d = node.definition
    address = {k: v for k, v in vars(d.address).items() if v is not None}
    return {"node_id": node.node_id, "type": d.node_type, "name": d.name, "address": address,
            "priority": d.priority, "cut_off": d.cut_off, "timezone": d.timezone,
            "processing_days": d.processing_days, "daily_capacity": d.daily_capacity,
            "shipping_methods": list(d.shipping_methods), "accepts_returns": d.accepts_returns,
            "active": d.active, "version": node.version, "created_at": node.created_at,
            "updated_at": node.updated_at}


def check_node_id(node_id: str) -> str:
    if not NODE_ID.match(node_id):
        raise ValidationFailed("node_id", "must be 1-64 letters, digits, '.', '_' or '-', starting with a letter "
                                          "or digit")
    return node_id


@dataclass
class NodeService:
    store: NodeStore
    clock: Callable[[], str] = field(default=utc_now)

    def put(self, node_id: str, definition: NodeDefinition, principal: Principal) -> tuple[dict[str, Any], bool]:
        """The node as ``definition`` says, whole (created if new): (its view, whether it was
        created). The same definition again is answered from what is stored, with no write; a
        node changed meanwhile is read again and replaced (the last PUT wins)."""
        if principal.role != "agent":
            raise Forbidden(f"role {principal.role!r} may not change nodes")
        check_node_id(node_id)
        for _ in range(3):  # another agent (or the seed) may write the node at the same moment
            current = self.store.get(node_id)
            if current is not None and current.definition == definition:
                return node_view(current), False
            at = self.clock()
            node = ManagedNode(node_id=node_id, definition=definition,
                               version=current.version + 1 if current else 1,
                               created_at=current.created_at if current else at, updated_at=at,
                               updated_by=f"{principal.role}:{principal.principal_id}")
            try:
                self.store.put(node, expected_version=current.version if current else None)
            except Conflict:
                continue
            return node_view(node), current is None
        raise Conflict(f"node {node_id} keeps changing; read it again and retry")

    def get(self, node_id: str, principal: Principal) -> dict[str, Any]:
        """An agent reads any node; a node only itself (another node does not exist for it)."""
        self._may_read(principal)
        if principal.role == "node" and principal.principal_id != node_id:
            raise NotFound(f"node {node_id} does not exist")
        node = self.store.get(node_id) if NODE_ID.match(node_id) else None
        if node is None:
            raise NotFound(f"node {node_id} does not exist")
        return node_view(node)

    def listing(self, principal: Principal, *, limit: int, token: str | None
                ) -> tuple[list[dict[str, Any]], str | None]:
        """Agents: every node, by id, a page at a time. A node: itself."""
        self._may_read(principal)
        if principal.role == "node":
            own = self.store.get(principal.principal_id) if NODE_ID.match(principal.principal_id) else None
            return ([node_view(own)] if own else []), None
        nodes, next_token = self.store.listing(limit=limit, token=token)
        return [node_view(n) for n in nodes], next_token

    def network(self, principal: Principal) -> list[dict[str, Any]]:
        """Every node at once, by id (``oms nodes list``; agents only)."""
        if principal.role != "agent":
            raise Forbidden(f"role {principal.role!r} may not list every node")
        return [node_view(n) for n in self.store.every_node()]

    @staticmethod
    def _may_read(principal: Principal) -> None:
        if principal.role not in ("agent", "node"):
            raise Forbidden(f"role {principal.role!r} may not read nodes")
