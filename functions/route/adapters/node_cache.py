"""The node network cached per container for planning, never stale, read with the stock in one
request.

API.md: a change to a node applies to every order planned after its ``PUT`` answered 200. A
container's copy can't be told that a node changed, so every plan asks the table for the
network's version (a tiny item that every node write moves in the same transaction,
``node_table.py``), consistently, and uses its copy only if the version is still the one it was
read at. A plan that starts after the PUT's 200 sees the new version and reads the nodes again.

The version costs no request of its own: holding the network, a plan knows every stock record
it can use (one per SKU and node), so one consistent BatchGetItem reads the version and those
records together — one request per plan, where a Query per SKU and the version's GetItem were
two for a one-SKU order. The records are 1 RRU each (one per node and SKU, plus the version),
against one Query's read of the same records: about $0.00025 per 1,000 orders more for two
nodes, and a request fewer. More records than one BatchGetItem takes (100 keys) are read in
several, the version with the first (see ``StockReader.version_and_levels`` for the consistency
that gives). When the version moved the plan falls back to reading the nodes (one Query) and a
Query per SKU — in batches again when the records would not fit one.

Why not the alternatives:
- the old 60 s time-to-live cache: no request at all, but a node paused by an agent kept
  getting orders for up to a minute — the contract forbids it;
- reading the nodes on every plan: a request more, and read units growing with the network;
- checking the version in Reserve's transaction: a ConditionCheck is billed as a write (2 WRU
  in a transaction, ten times the reads here), and would send a stale plan round the StockMoved
  loop instead of planning right the first time.
"""

from __future__ import annotations

from collections.abc import Sequence

from functions.core.adapters.stock import BATCH_GET_KEYS
from functions.core.sourcing import Node, StockLevel
from functions.route.ports import NetworkView, StockLevels


class CachedNodes:
    """Planning's view of stock (``StockView``): the stock records as ``stock`` reads them, the
    node network as ``network`` last wrote it, re-read only when its version moved."""

    def __init__(self, stock: StockLevels, network: NetworkView) -> None:
        self._stock = stock
        self._network = network
        self._cached: tuple[int, list[Node]] | None = None

    def snapshot(self, skus: Sequence[str]) -> tuple[list[Node], list[StockLevel]]:
        current: int | None = None
        if self._cached is not None:
            version, nodes = self._cached
            # a large order's records take several batches, the version read with the first
            current, levels = self._stock.version_and_levels(skus, [n.node_id for n in nodes])
            if current == version:
                return list(nodes), levels
        # a node changed (the batch just read the version that says so), or no copy yet: the
        # network again, and the stock a Query per SKU — or, for more records than one
        # BatchGetItem takes, in batches (250 Queries would be 250 requests)
        nodes = self.nodes(current)
        if 1 + len(nodes) * len(skus) > BATCH_GET_KEYS:
            return nodes, self._stock.version_and_levels(skus, [n.node_id for n in nodes])[1]
        return nodes, [level for sku in skus for level in self._stock.levels(sku)]

    def nodes(self, version: int | None = None) -> list[Node]:
        """The network, re-read if its version (read now unless just read) moved."""
        if version is None:
            version = self._network.version()
        if self._cached is None or self._cached[0] != version:
            # read after the version: the nodes are at least as new as the version they are cached under
            self._cached = (version, self._network.nodes())
        return list(self._cached[1])
