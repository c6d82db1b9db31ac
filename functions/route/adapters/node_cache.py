"""The node network cached per container for planning, never stale.

API.md: a change to a node applies to every order planned after its ``PUT`` answered 200. A
container's copy can't be told that a node changed, so every plan asks the table: one
consistent GetItem of the network's version item (under 100 bytes: 1 RRU, about $0.000125 per
1,000 orders), and reads the nodes again (one consistent Query of their partition) only when
the version moved. Every node write moves the version in the same transaction
(``node_table.py``), so a plan that starts after the PUT's 200 sees the new version and re-reads.

Why this and not the alternatives (measured with ``/_local/requests``: the Plan task makes
this one GetItem per order besides its order and stock Queries):
- the old 60 s time-to-live cache: no request at all, but a node paused by an agent kept
  getting orders for up to a minute — the contract forbids it;
- reading the nodes on every plan (one Query, no version item): as many requests, but its
  read units grow with the network (every node item, ~0.5 KB each) on every order, where the
  version read stays 1 RRU whatever the network's size;
- no extra request (e.g. checking the version in Reserve's transaction): a ConditionCheck is
  billed as a write (2 WRU in a transaction: $0.00125 per 1,000 orders, ten times the read),
  and would send a stale plan round the StockMoved loop instead of planning right the first time.
"""

from __future__ import annotations

from functions.core.sourcing import Node, StockLevel
from functions.route.ports import NetworkView, StockLevels


class CachedNodes:
    """Planning's view of stock (``StockView``): the levels as ``stock`` reads them, the node
    network as ``network`` last wrote it, re-read only when its version moved."""

    def __init__(self, stock: StockLevels, network: NetworkView) -> None:
        self._stock = stock
        self._network = network
        self._cached: tuple[int, list[Node]] | None = None

    def nodes(self) -> list[Node]:
        version = self._network.version()
        if self._cached is None or self._cached[0] != version:
            # read after the version: the nodes are at least as new as the version they are cached under
            self._cached = (version, self._network.nodes())
        return list(self._cached[1])

    def levels(self, sku: str) -> list[StockLevel]:
        return self._stock.levels(sku)
