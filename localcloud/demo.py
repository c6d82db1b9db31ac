"""``make demo``: a day in the life of the OMS, played through its public HTTP API.

``python -m localcloud.demo [--orders 50] [--port 0] [--seed 7] [--url URL] [--keep] [--json PATH]``

1. Starts the local stack (``python -m localcloud serve``) on a free port with the launcher the e2e
   tests use (localcloud/launcher.py) — unless ``--url`` names one that is already running. Every
   call goes through the local OMS's client (localcloud/client.py).
2. Stocks a small catalogue in DC-BERLIN and STORE-MUNICH (one SKU is scarce, so some orders wait
   BACKORDERED).
3. Places ``--orders`` orders from the webshop and the marketplace (quote first, so the card
   authorisation covers the total), four at a time; about one in ten is cancelled right after.
4. Plays the warehouse and the store: dispatches every requested shipment of the demo's orders.
5. Waits until every order is settled (COMPLETED, BACKORDERED or CANCELLED), polling each order
   between ``POST /_local/settle`` calls (which return once the stack is idle), and prints a summary:
   orders by status, shipments, notices sent (``/_local/outbox``), invoices and captured revenue, and
   whether every completed order's invoices add up to its total. ``--json PATH`` writes it as JSON.
6. Returns a few completed orders (refunds, an exchange), then exports its day as finance closes the
   books (``oms finance export --from <day> --to <day>``, in a subprocess, as an operator runs it),
   waiting up to ``--timeout`` for the day's finance events to reach the archive, and prints the
   reconciliation: each term per currency, ending with ``difference: …``. The export covers every
   document of the day on the stack, so an earlier run's order still in flight (or another
   client's) can show a finding and move the difference: the demo prints the export as it is,
   then says which findings are not about its own documents and what its own difference is
   (the printed one less those findings' effects). It fails on its own documents only.

Randomness is ``random.Random(--seed)``: the same seed gives the same customers, baskets and
cancellations. Only a short run tag in the order ids and idempotency keys differs between runs, so
the demo can run again against the same stack. It only touches its own orders and catalogue SKUs.

Exit status: 0, or 1 if an order could not be placed, an invoice check failed or the demo's own
documents do not reconcile in the day's export (a finding about one of them, an unattributable
finding, or a difference its findings do not explain), 2 if the stack did not start; orders that
did not settle in time are reported, not fatal.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from random import Random
from typing import Any, TextIO, TypeVar
from urllib.parse import urlsplit

import httpx

from localcloud.client import KEYS, NODE_KEYS, Api, ApiError, ok
from localcloud.launcher import ROOT, LocalStack, StackNotReady

WORKERS = 4
#: Where an order ends up: invoiced and paid, waiting for stock, or cancelled.
SETTLED = frozenset({"COMPLETED", "BACKORDERED", "CANCELLED"})
#: Nothing left for a node to ship.
NOTHING_TO_SHIP = frozenset({"SHIPPED", "COMPLETED", "BACKORDERED", "CANCELLED"})
CANCEL_SHARE = 0.10
STALL_SECONDS = 45.0  # API.md: the local stack settles within 10 s; no change for much longer = stuck
POLL_SECONDS = 1.0  # the stack is one process: polling it hard slows the work we are waiting for
IDLE_WAIT_SECONDS = 5.0  # one POST /_local/settle waits at most this long
QUIET_ROUNDS = 3  # idle and unchanged this many rounds in a row: nothing more will happen by itself

T = TypeVar("T")
R = TypeVar("R")


# --------------------------------------------------------------------------------------------- catalogue


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    unit_price: str  # net of tax, EUR
    nodes: tuple[str, ...]  # where it is stocked
    weight: int  # how often it is bought
    tax_class: str = "standard"
    scarce: bool = False


BOTH = ("DC-BERLIN", "STORE-MUNICH")
CATALOGUE: tuple[Product, ...] = (
    Product("MUG-ENAMEL-RED", "Enamel mug, red, 350 ml", "12.50", BOTH, 9),
    Product("MUG-STONE-BLUE", "Stoneware mug, blue", "14.90", ("DC-BERLIN",), 6),
    Product("TEE-ORGANIC-BLK-M", "Organic T-shirt, black, M", "19.90", BOTH, 8),
    Product("TEE-ORGANIC-WHT-L", "Organic T-shirt, white, L", "19.90", ("STORE-MUNICH",), 5),
    Product("NOTEBOOK-A5-DOT", "Dotted notebook A5", "8.90", BOTH, 8),
    Product("BOOK-COFFEE-GUIDE", "The Coffee Guide (book)", "24.00", ("DC-BERLIN",), 4, tax_class="reduced"),
    Product("TOTE-CANVAS-NAT", "Canvas tote bag", "9.50", ("STORE-MUNICH",), 5),
    Product("LAMP-DESK-BRASS", "Brass desk lamp", "89.00", ("DC-BERLIN",), 3, scarce=True),
)

FIRST_NAMES = ("Anna", "Lukas", "Sophie", "Jonas", "Mia", "Felix", "Lena", "Paul", "Emma", "Maximilian", "Hannah",
               "Leon", "Clara", "Noah", "Ida", "Ben", "Charlotte", "Elias", "Marie", "Finn")
LAST_NAMES = ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Hoffmann", "Koch",
              "Richter", "Klein", "Wolf", "Schröder", "Neumann", "de Vries", "Jansen", "Gruber", "Huber", "Bauer")
MAIL_DOMAINS = ("example.com", "example.org", "example.net")
#: (street, city, postal code) per country; most customers live in Germany.
STREETS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "DE": (("Unter den Linden", "Berlin", "10117"), ("Torstraße", "Berlin", "10119"),
           ("Sendlinger Straße", "München", "80331"), ("Schanzenstraße", "Hamburg", "20357"),
           ("Ehrenstraße", "Köln", "50672"), ("Berger Straße", "Frankfurt am Main", "60316"),
           ("Königstraße", "Stuttgart", "70173"), ("Karl-Liebknecht-Straße", "Leipzig", "04107"),
           ("Ostenbergstraße", "Dortmund", "44227"), ("Lindenstraße", "Bremen", "28195")),
    "AT": (("Mariahilfer Straße", "Wien", "1060"), ("Getreidegasse", "Salzburg", "5020"),
           ("Herrengasse", "Graz", "8010")),
    "NL": (("Prinsengracht", "Amsterdam", "1015 DV"), ("Oudegracht", "Utrecht", "3511 AP"),
           ("Witte de Withstraat", "Rotterdam", "3012 BM")),
}
COUNTRY_WEIGHTS = {"DE": 78, "AT": 12, "NL": 10}
PHONE_PREFIX = {"DE": ("+49151", 8), "AT": ("+43664", 7), "NL": ("+316", 8)}  # prefix, subscriber digits


# --------------------------------------------------------------------------------------------- plan


@dataclass
class PlannedOrder:
    n: int
    channel: str  # "webshop" | "marketplace"
    body: dict[str, Any]
    cancel: bool
    cancel_after: float  # seconds after placing


@dataclass
class Placed:
    planned: PlannedOrder
    order_id: str | None = None
    error: str | None = None
    cancel_result: str | None = None  # "cancelled" | "conflict" | "failed: …"


def _ascii(text: str) -> str:
    return (text.replace("ä", "ae").replace("ö", "oe").replace("ü", "ue").replace("ß", "ss")
            .replace(" ", "").lower())


def _customer(rng: Random, channel: str, i: int) -> dict[str, Any]:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    country = rng.choices(list(COUNTRY_WEIGHTS), weights=list(COUNTRY_WEIGHTS.values()))[0]
    street, city, postal = rng.choice(STREETS[country])
    german_share = {"DE": 0.65, "AT": 0.85}.get(country, 0.0)  # Dutch customers read English
    locale = "de-DE" if rng.random() < german_share else "en-GB"
    customer: dict[str, Any] = {
        "customer_id": f"C-{1000 + i}" if channel == "webshop" else f"MKT-{rng.randrange(10**7, 10**8)}",
        "email": f"{_ascii(first)}.{_ascii(last)}{rng.randrange(1, 99)}@{rng.choice(MAIL_DOMAINS)}",
        "locale": locale,
        "name": f"{first} {last}",
    }
    if rng.random() < 0.85:
        prefix, digits = PHONE_PREFIX[country]
        customer["phone"] = f"{prefix}{rng.randrange(10 ** (digits - 1), 10**digits)}"
    address = {"name": f"{first} {last}", "line1": f"{street} {rng.randrange(1, 120)}", "city": city,
               "postal_code": postal, "country": country}
    return {"customer": customer, "address": address}


def plan_orders(count: int, seed: int, run_tag: str) -> list[PlannedOrder]:
    """The same seed gives the same customers, baskets and cancellations; ``run_tag`` keeps ids unique."""
    rng = Random(seed)
    pools = {ch: [_customer(rng, ch, i) for i in range(max(4, count // 2))] for ch in ("webshop", "marketplace")}
    cancels = set(rng.sample(range(count), min(count, round(count * CANCEL_SHARE)))) if count else set()
    planned = []
    for n in range(count):
        channel = "webshop" if rng.random() < 0.6 else "marketplace"
        who = rng.choice(pools[channel])
        products = rng.sample(CATALOGUE, k=rng.choices((1, 2, 3, 4), weights=(40, 30, 20, 10))[0],
                              counts=[p.weight for p in CATALOGUE])
        lines, seen = [], set()
        for p in products:
            if p.sku in seen:  # sampling by weight may repeat a product; one line per SKU
                continue
            seen.add(p.sku)
            quantity = 1 if p.scarce else rng.choices((1, 2, 3, 5), weights=(60, 25, 10, 5))[0]
            line = {"sku": p.sku, "quantity": quantity, "unit_price": p.unit_price}
            if p.tax_class != "standard":
                line["tax_class"] = p.tax_class
            lines.append(line)
        prefix = "WEB" if channel == "webshop" else "MKT"
        body = {
            "channel_order_id": f"{prefix}-{run_tag}-{n + 1:04d}",
            "customer": who["customer"],
            "currency": "EUR",
            "lines": lines,
            "shipping_address": who["address"],
            "shipping_method": "express" if rng.random() < 0.25 else "standard",
            "payment": {"method": "card", "authorization_id": f"auth_demo_{n + 1}", "amount": "0.00"},
        }
        planned.append(PlannedOrder(n + 1, channel, body, n in cancels, round(rng.uniform(0.0, 0.5), 2)))
    return planned


def stock_plan(orders: Iterable[PlannedOrder]) -> dict[tuple[str, str], int]:
    """On-hand per (SKU, node): enough for the demand with some to spare, except the scarce SKU."""
    demand: Counter[str] = Counter()
    for o in orders:
        for line in o.body["lines"]:
            demand[line["sku"]] += line["quantity"]
    levels: dict[tuple[str, str], int] = {}
    for p in CATALOGUE:
        total = max(2, demand[p.sku] // 3) if p.scarce else math.ceil(demand[p.sku] * 1.2) + 5
        if len(p.nodes) == 1:
            levels[(p.sku, p.nodes[0])] = total
        else:  # the DC carries most, the store a share
            dc = math.ceil(total * 0.65)
            levels[(p.sku, p.nodes[0])], levels[(p.sku, p.nodes[1])] = dc, total - dc
    return levels


# --------------------------------------------------------------------------------------------- progress


def _encodes(stream: TextIO, text: str) -> bool:
    try:
        text.encode(stream.encoding or "ascii")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


class Progress:
    """One line on stderr, redrawn with ``\\r`` while a phase runs; plain lines when not a terminal."""

    WIDTH = 28

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.fancy = _encodes(self.stream, "█░")
        self.lock = threading.Lock()
        self.name = ""
        self.total = 0
        self.done = 0
        self.note = ""
        self.started = 0.0
        self.active = False
        self.milestone = 0
        self._stop = threading.Event()
        if self.tty:  # keep the clock moving while a phase waits
            threading.Thread(target=self._tick, daemon=True).start()

    def _tick(self) -> None:
        while not self._stop.wait(0.25):
            with self.lock:
                if self.active:
                    self._draw()

    def _line(self) -> str:
        elapsed = time.monotonic() - self.started
        if self.total:
            filled = int(self.WIDTH * min(self.done, self.total) / self.total)
            full, empty = ("█", "░") if self.fancy else ("#", "-")
            bar = f"[{full * filled}{empty * (self.WIDTH - filled)}] {self.done}/{self.total}"
        else:
            bar = "…" if self.fancy else "..."
        return f"{self.name:<16} {bar} {elapsed:5.1f}s {self.note}".rstrip()

    def _draw(self) -> None:
        self.stream.write("\r\x1b[K" + self._line())
        self.stream.flush()

    def phase(self, name: str, total: int = 0) -> None:
        with self.lock:
            if self.active:
                self._end()
            self.name, self.total, self.done, self.note = name, total, 0, ""
            self.started, self.active, self.milestone = time.monotonic(), True, 0
            if self.tty:
                self._draw()
            else:
                self.stream.write(f"{name} ...{f' ({total})' if total else ''}\n")
                self.stream.flush()

    def update(self, done: int | None = None, *, advance: int = 0, note: str | None = None) -> None:
        with self.lock:
            if done is not None:
                self.done = done
            self.done += advance
            if note is not None:
                self.note = note
            if self.tty:
                self._draw()
            elif self.total:  # a plain line at every quarter
                quarter = 4 * min(self.done, self.total) // self.total
                if 0 < quarter < 4 and quarter > self.milestone:
                    self.milestone = quarter
                    self.stream.write(f"  {self._line()}\n")
                    self.stream.flush()

    def _end(self) -> None:
        self.active = False
        if self.tty:
            self._draw()
            self.stream.write("\n")
        else:
            self.stream.write(f"  {self._line()}\n")
        self.stream.flush()

    def end(self, note: str | None = None) -> None:
        with self.lock:
            if note is not None:
                self.note = note
            if self.active:
                self._end()

    def close(self) -> None:
        self.end()
        self._stop.set()

    def say(self, text: str) -> None:
        """A message of its own line, above the bar."""
        with self.lock:
            self.stream.write(("\r\x1b[K" if self.tty else "") + text + "\n")
            if self.tty and self.active:
                self._draw()
            self.stream.flush()


def tracking_number(shipment_id: str) -> str:
    """A DHL-style 20-digit number, the same for the same shipment (so a repeated dispatch is harmless)."""
    return f"00340434{zlib.crc32(shipment_id.encode()):012d}"


# --------------------------------------------------------------------------------------------- the demo


@dataclass
class Run:
    api: Api
    pool: ThreadPoolExecutor
    progress: Progress
    timeout: float
    placed: list[Placed] = field(default_factory=list)
    views: dict[str, dict[str, Any]] = field(default_factory=dict)
    dispatch_results: Counter[str] = field(default_factory=Counter)
    stragglers: dict[str, str] = field(default_factory=dict)  # order id -> status when we stopped waiting
    returns: dict[str, dict[str, Any]] = field(default_factory=dict)  # return id -> its view, as last read
    return_errors: list[str] = field(default_factory=list)
    replacements: list[str] = field(default_factory=list)  # exchanges' replacement orders
    can_settle: bool = True  # the stack serves /_local/settle

    def each(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        return list(self.pool.map(fn, items))

    @property
    def order_ids(self) -> list[str]:
        return [p.order_id for p in self.placed if p.order_id]

    def wait(self) -> bool:
        """Give the stack time to work: until it is idle (at most a few seconds) where it can tell,
        else a pause. True if the stack said it is idle."""
        if self.can_settle:
            idle = self.api.wait_idle(IDLE_WAIT_SECONDS)
            if idle is not None:
                return idle
            self.can_settle = False
        time.sleep(POLL_SECONDS)
        return False

    def statuses(self, order_ids: Iterable[str]) -> dict[str, str]:
        """Read the orders (by id: the agent's order list is far slower on the local stack)."""
        wanted = list(order_ids)
        self.refresh(wanted)
        return {oid: self.views[oid]["status"] for oid in wanted}

    def refresh(self, order_ids: Iterable[str]) -> None:
        for view in self.each(self.api.order, list(order_ids)):
            self.views[view["order_id"]] = view


def stock_up(run: Run, levels: dict[tuple[str, str], int]) -> None:
    run.progress.phase("stock", len(levels))

    def put(item: tuple[tuple[str, str], int]) -> None:
        (sku, node), on_hand = item
        run.api.put_stock(sku, node, on_hand)
        run.progress.update(advance=1)

    run.each(put, levels.items())
    for _ in range(3):  # read it back: a stock level that did not stick would turn orders into backorders
        skus = sorted({sku for sku, _ in levels})
        actual = dict(zip(skus, run.each(run.api.stock, skus), strict=True))
        wrong = {(sku, node): n for (sku, node), n in levels.items() if actual[sku].get(node) != n}
        if not wrong:
            break
        run.progress.say(f"stock did not stick for {sorted(wrong)}: setting it again")
        run.each(put, wrong.items())
    run.progress.end(f"{len(CATALOGUE)} SKUs in {len({n for _, n in levels})} nodes")


def place_orders(run: Run, planned: list[PlannedOrder], run_tag: str) -> None:
    run.progress.phase("placing orders", len(planned))
    failures: list[int] = []

    def place(o: PlannedOrder) -> Placed:
        result = Placed(o)
        key = KEYS[o.channel]
        try:  # the quote gives the total the card authorisation has to cover
            totals = run.api.quote(o.body, key)["totals"]
            body = {**o.body, "payment": {**o.body["payment"], "amount": totals["total"]}}
            order = run.api.place(body, key, f"demo-{run_tag}-{o.n:04d}")
            result.order_id = order["order_id"]
        except (ApiError, httpx.HTTPError) as e:
            result.error = str(e)
            failures.append(o.n)  # list.append is atomic
            run.progress.update(advance=1, note=f"{len(failures)} failed")
            return result
        if o.cancel:  # the customer changes their mind soon after
            time.sleep(o.cancel_after)
            r = run.api.cancel(order["order_id"], key)
            result.cancel_result = ("cancelled" if r.status_code == 200 else "conflict" if r.status_code == 409
                                    else f"failed: {r.status_code} {r.text[:120]}")
        run.progress.update(advance=1)
        return result

    run.placed = run.each(place, planned)
    for p in run.placed:
        if p.error:
            run.progress.say(f"order {p.planned.n} ({p.planned.channel}) not placed: {p.error}")
    run.progress.end(f"{len(run.order_ids)} placed" + (f", {len(failures)} failed" if failures else ""))


def dispatch_round(run: Run) -> int:
    """The warehouse and the store each fetch their open requests and dispatch the demo's; how many."""
    ours = set(run.order_ids) | set(run.replacements)

    def ship(item: tuple[str, dict[str, Any]]) -> str:
        key, shipment = item
        r = run.api.dispatch(shipment["shipment_id"], key, tracking_number(shipment["shipment_id"]))
        return {200: "dispatched", 409: "conflict", 404: "not found"}.get(r.status_code, f"HTTP {r.status_code}")

    todo = [(key, s) for key in NODE_KEYS.values() for s in run.api.requested(key) if s["order_id"] in ours]
    results = run.each(ship, todo)
    run.dispatch_results.update(results)
    return len(results)


def dispatch_all(run: Run) -> None:
    """Play the warehouse and the store until no demo order has anything left to ship."""
    ours = run.order_ids
    run.progress.phase("dispatching", len(ours))
    deadline = time.monotonic() + run.timeout
    before: dict[str, str] = {}
    quiet = 0  # rounds in a row in which the stack was idle and nothing changed
    while True:
        idle = run.wait()
        shipped = dispatch_round(run)
        statuses = run.statuses(ours)
        pending = [oid for oid in ours if statuses[oid] not in NOTHING_TO_SHIP]
        run.progress.update(len(ours) - len(pending), note=f"{run.dispatch_results['dispatched']} shipments")
        quiet = quiet + 1 if idle and not shipped and statuses == before else 0
        if not pending or quiet >= QUIET_ROUNDS or time.monotonic() > deadline:
            break
        before = statuses
        if quiet:
            time.sleep(POLL_SECONDS)  # e.g. a retry timer: give it a chance before calling the order stuck
    run.progress.end(f"{run.dispatch_results['dispatched']} shipments dispatched"
                     + (f", {len(pending)} orders not shipped" if pending else ""))


def settle(run: Run) -> None:
    """Wait until every order is COMPLETED, BACKORDERED or CANCELLED (the nodes keep dispatching meanwhile).

    Stops early for orders that cannot get there: when the stack is idle and nothing changed (where it
    serves ``/_local/settle``), or when only SHIPPED orders are left and none has changed for
    ``STALL_SECONDS`` (a stack without the invoicing step leaves them SHIPPED); else after the timeout.
    """
    ours = run.order_ids
    run.progress.phase("settling", len(ours))
    deadline = time.monotonic() + run.timeout
    last_change, before = time.monotonic(), run.statuses(ours)
    quiet = 0
    while True:
        pending = [oid for oid in ours if before[oid] not in SETTLED]
        run.progress.update(len(ours) - len(pending))
        if not pending:
            break
        idle = run.wait()
        shipped = dispatch_round(run) if any(before[oid] not in NOTHING_TO_SHIP for oid in pending) else 0
        statuses = run.statuses(ours)
        now = time.monotonic()
        if statuses != before or shipped:
            last_change = now
        quiet = quiet + 1 if idle and not shipped and statuses == before else 0
        stalled = now - last_change > STALL_SECONDS and all(statuses[oid] == "SHIPPED" for oid in pending)
        before = statuses
        if quiet >= QUIET_ROUNDS or stalled or now > deadline:
            pending = [oid for oid in ours if before[oid] not in SETTLED]
            break
        if quiet:
            time.sleep(POLL_SECONDS)
    run.stragglers = {oid: before[oid] for oid in pending}
    run.progress.update(len(ours) - len(pending))
    run.progress.end(f"{len(pending)} not settled" if pending else "all settled")
    run.refresh(ours)  # the full views, for the summary


#: (reason, condition on arrival, outcome) of the returns the demo makes, one completed order each:
#: a damaged unit (refunded, not restocked), a change of mind (restocked, refunded), an exchange
#: (restocked; a replacement order at 0.00, shipped like any order).
RETURN_PLANS = (("DAMAGED", "DAMAGED", "REFUND"), ("CHANGED_MIND", "RESELLABLE", "REFUND"),
                ("WRONG_ITEM", "RESELLABLE", "EXCHANGE"))
RETURNS_DONE = frozenset({"REFUNDED", "EXCHANGED", "REJECTED", "CLOSED"})


def return_some(run: Run, run_tag: str) -> None:
    """The customers of a few completed orders send one unit back each (RETURN_PLANS); the node
    it goes to receives it; wait until each is refunded or exchanged and the replacements completed."""
    completed = [oid for oid in run.order_ids if run.views[oid]["status"] == "COMPLETED"]
    chosen = list(zip(completed, RETURN_PLANS, strict=False))
    run.progress.phase("returns", len(chosen))

    def one(item: tuple[str, tuple[str, str, str]]) -> None:
        oid, (reason, condition, outcome) = item
        line = run.views[oid]["lines"][0]
        body: dict[str, Any] = {"lines": [{"line_id": line["line_id"], "quantity": 1, "reason": reason}],
                                "outcome": outcome}
        if outcome == "EXCHANGE":
            body["exchange_lines"] = [{"sku": line["sku"], "quantity": 1}]
        try:
            ret = run.api.ask_return(oid, body, f"demo-{run_tag}-{oid}-return")
            run.returns[ret["return_id"]] = run.api.receive(ret, f"RCV-{ret['rma_number']}", [
                {"line_id": line["line_id"], "quantity": 1, "condition": condition}])
        except ApiError as e:
            run.return_errors.append(f"{oid}: {e}")

    run.each(one, chosen)
    deadline = time.monotonic() + run.timeout
    while run.returns:
        run.wait()
        for view in run.each(run.api.returned, list(run.returns)):
            run.returns[view["return_id"]] = view
        run.replacements = [v["exchange_order_id"] for v in run.returns.values() if v.get("exchange_order_id")]
        dispatch_round(run)
        finished = [v for v in run.returns.values() if v["status"] in RETURNS_DONE]
        run.progress.update(len(finished))
        replaced = run.statuses(run.replacements)
        if (len(finished) == len(run.returns) and all(s in SETTLED for s in replaced.values())) \
                or time.monotonic() > deadline:
            break
    run.progress.end(f"{len(run.returns)} returned" + (f", {len(run.return_errors)} failed" if run.return_errors
                                                        else ""))
    run.refresh(run.order_ids)  # their credit notes, for the summary


# --------------------------------------------------------------------------------------------- summary


def _money(amount: Decimal) -> str:
    return f"{amount.quantize(Decimal('0.01')):,.2f}"


def summarise(run: Run, outbox: dict[str, Any], *, seed: int, requested: int, seconds: float, base_url: str
              ) -> dict[str, Any]:
    ours = set(run.order_ids)
    views = [run.views[oid] for oid in run.order_ids]
    statuses = Counter(v["status"] for v in views)
    shipments = [s for v in views for s in v.get("shipments") or []]
    invoices = [i for v in views for i in v.get("invoices") or [] if i.get("kind", "invoice") == "invoice"]
    credit_notes = [i for v in views for i in v.get("invoices") or [] if i.get("kind") == "credit_note"]
    captured: dict[str, Decimal] = defaultdict(Decimal)
    for inv in invoices:
        if inv.get("payment_status") == "CAPTURED":
            captured[inv.get("currency") or "EUR"] += Decimal(inv.get("total") or inv.get("gross") or "0")
    completed = [v for v in views if v["status"] == "COMPLETED"]
    mismatched = [v["order_id"] for v in completed
                  if sum((Decimal(i.get("total") or i.get("gross") or "0") for i in v.get("invoices") or []
                          if i.get("kind", "invoice") == "invoice"), Decimal(0)) != Decimal(v["totals"]["total"])]
    emails = [m for m in outbox.get("emails", []) if m.get("order_id") in ours]
    sms = [m for m in outbox.get("sms", []) if m.get("order_id") in ours]
    cancels = Counter(p.cancel_result for p in run.placed if p.cancel_result)
    refunded: dict[str, Decimal] = defaultdict(Decimal)
    for note in credit_notes:
        if note.get("payment_status") in ("REFUNDED", "CREDITED"):
            refunded[note.get("currency") or "EUR"] += Decimal(note.get("gross") or "0")
    returns = list(run.returns.values())
    return {
        "seed": seed,
        "base_url": base_url,
        "mail_url": f"{base_url}/_local/mail",
        "run_time_seconds": round(seconds, 1),
        "orders": {
            "requested": requested,
            "placed": len(ours),
            "failed": [{"n": p.planned.n, "channel": p.planned.channel, "error": p.error}
                       for p in run.placed if p.error],
            "by_channel": dict(Counter(p.planned.channel for p in run.placed if p.order_id)),
            "by_status": dict(statuses.most_common()),
            "not_settled": dict(run.stragglers),
        },
        "cancellations": {"requested": sum(cancels.values()), "cancelled": cancels["cancelled"],
                          "too_late": cancels["conflict"],
                          "failed": sum(v for k, v in cancels.items() if k.startswith("failed"))},
        "shipments": {"total": len(shipments),
                      "dispatched": sum(s["status"] == "DISPATCHED" for s in shipments),
                      "cancelled": sum(s["status"] == "CANCELLED" for s in shipments),
                      "open": sum(s["status"] == "REQUESTED" for s in shipments),
                      "dispatch_calls": dict(run.dispatch_results)},
        "notices": {"emails": len(emails), "sms": len(sms),
                    "emails_by_kind": dict(Counter(m.get("kind") for m in emails).most_common()),
                    "sms_by_kind": dict(Counter(m.get("kind") for m in sms).most_common())},
        "api_errors_retried": dict(run.api.retried.most_common()),
        "invoices": {"issued": len(invoices), "credit_notes": len(credit_notes),
                     "by_payment_status": dict(Counter(i.get("payment_status") for i in invoices).most_common()),
                     "captured_revenue": {cur: str(amount) for cur, amount in sorted(captured.items())},
                     "completed_orders": len(completed),
                     "completed_orders_matching_totals": len(completed) - len(mismatched),
                     "mismatched_orders": mismatched},
        "returns": {"returned": len(returns), "failed": list(run.return_errors),
                    "by_status": dict(Counter(r["status"] for r in returns).most_common()),
                    "damaged_units": sum(x["quantity"] for r in returns for rc in r.get("receipts") or []
                                         for x in rc.get("lines") or [] if x.get("condition") == "DAMAGED"),
                    "credit_notes": len(credit_notes),
                    "refunded_revenue": {cur: str(amount) for cur, amount in sorted(refunded.items())},
                    "replacement_orders": len(run.replacements),
                    "replacement_orders_completed": sum(run.views.get(oid, {}).get("status") == "COMPLETED"
                                                        for oid in run.replacements)},
    }


def render(summary: dict[str, Any], *, stream: TextIO, mail_hint: str = "") -> str:
    ok, bad, rule, times = ("✓", "✗", "─", "×") if _encodes(stream, "✓✗─×") else ("OK", "MISMATCH", "-", "x")
    rows: list[tuple[str, str | None]] = []

    def section(title: str) -> None:
        rows.append((title, ""))

    def row(label: str, value: object, indent: int = 1) -> None:
        rows.append(("  " * indent + label, str(value)))

    o, c, s, n, i = (summary[k] for k in ("orders", "cancellations", "shipments", "notices", "invoices"))
    section("Orders")
    channels = ", ".join(f"{k} {v}" for k, v in sorted(o["by_channel"].items()))
    row("placed", f"{o['placed']} of {o['requested']}" + (f"  ({channels})" if channels else ""))
    for status, count in o["by_status"].items():
        row(status, count, 2)
    if o["failed"]:
        row("not placed", len(o["failed"]))
    if c["requested"]:
        row("cancel requests", f"{c['requested']}  ({c['cancelled']} cancelled, {c['too_late']} too late"
            + (f", {c['failed']} failed" if c["failed"] else "") + ")")
    if o["not_settled"]:
        by = Counter(o["not_settled"].values())
        row("not settled in time", f"{len(o['not_settled'])}  (" + ", ".join(f"{k} {v}" for k, v in by.items()) + ")")
    section("Shipments")
    row("total", s["total"])
    row("dispatched", s["dispatched"])
    row("cancelled", s["cancelled"])
    if s["open"]:
        row("still requested", s["open"])
    section("Notices sent")
    row("emails", n["emails"])
    for kind, count in n["emails_by_kind"].items():
        row(str(kind), count, 2)
    row("SMS", n["sms"])
    for kind, count in n["sms_by_kind"].items():
        row(str(kind), count, 2)
    section("Invoices")
    row("issued", i["issued"] if not i["credit_notes"] else f"{i['issued']} (+ {i['credit_notes']} credit notes)")
    for status, count in i["by_payment_status"].items():
        row(f"payment {status}", count, 2)
    for currency, amount in (i["captured_revenue"] or {"EUR": "0"}).items():
        row(f"captured revenue {currency}", _money(Decimal(amount)))
    matching, completed = i["completed_orders_matching_totals"], i["completed_orders"]
    row("invoices = order totals:", f"{matching}/{completed} {ok if matching == completed else bad}")
    r = summary.get("returns") or {}
    if r.get("returned") or r.get("failed"):
        section("Returns")
        row("returned", r["returned"] if not r["failed"] else f"{r['returned']} ({len(r['failed'])} failed)")
        for status, count in r["by_status"].items():
            row(status, count, 2)
        row("damaged units (not restocked)", r["damaged_units"])
        row("credit notes", r["credit_notes"])
        for currency, amount in (r["refunded_revenue"] or {"EUR": "0"}).items():
            row(f"refunded revenue {currency}", _money(Decimal(amount)))
        if r["replacement_orders"]:
            row("exchange orders completed", f"{r['replacement_orders_completed']}/{r['replacement_orders']}")
    if summary["api_errors_retried"]:
        section("Retried API calls")
        for call, count in summary["api_errors_retried"].items():
            rows.append((f"  {count}{times} {call}", None))  # a line of its own, outside the columns
    rows.append(("Run time", f"{summary['run_time_seconds']:.1f} s"))
    rows.append(("Mail", summary["mail_url"] + mail_hint))

    width = max(len(label) for label, value in rows if value is not None) + 2
    title = f"OMS demo: {o['requested']} orders, seed {summary['seed']}, {summary['base_url']}"
    lines = [title, rule * max(len(title), width + 24)]
    lines += [label if value is None else f"{label:<{width}}{value}".rstrip() for label, value in rows]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------- finance

#: How often the demo asks again while its day's finance events are still on their way to the archive.
EXPORT_POLL_SECONDS = 3.0


def demo_days(views: Iterable[dict[str, Any]]) -> tuple[str, str]:
    """The UTC days of the demo's documents (its day; two if it ran across midnight), else today."""
    days = sorted(str(i["issued_at"])[:10] for v in views for i in v.get("invoices") or [] if i.get("issued_at"))
    today = time.strftime("%Y-%m-%d", time.gmtime())
    return (days[0], days[-1]) if days else (today, today)


def own_orders(views: Iterable[dict[str, Any]]) -> set[str]:
    """The ids of the demo's orders (exchanges' replacements too)."""
    return {str(v["order_id"]) for v in views if v.get("order_id")}


def own_documents(ledger: Path, orders: set[str], findings: Iterable[str]) -> set[str]:
    """The document numbers the demo counts as its own: those of its orders in the export's
    ledger (by order id, so a document issued after the demo last read its orders — a late
    credit note, a replacement's invoice — is still its own), and any number a finding names
    that the ledger cannot place: only what is clearly another order's is set aside."""
    placed: dict[str, str] = {}
    if ledger.exists():
        with ledger.open(newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                if row.get("number"):
                    placed.setdefault(row["number"], row.get("order_id") or "")
    named = {m["number"] for m in (_FINDING.match(line) for line in findings) if m}
    return ({n for n, order in placed.items() if order in orders or not order}
            | {n for n in named if n not in placed})


#: A printed finding: ``<kind> <number or -> (<currency or ?> <effect>): <message>``.
_FINDING = re.compile(r"(?P<kind>\S+) (?P<number>\S+) \((?P<currency>\S+) (?P<effect>[^)\s]+)\): ")


def judge(parsed: dict[str, Any], own: set[str]) -> dict[str, Any]:
    """The export's findings split into the demo's own and the others (naming a document of
    another run or client on the stack), and the demo's own difference per currency: the printed
    difference less the others' effects. A finding that names no document, or cannot be read, is
    counted as the demo's: only what is clearly someone else's is set aside."""
    mine, foreign = [], []
    foreign_effect: dict[str, Decimal] = defaultdict(Decimal)
    for line in parsed["findings"]:
        match = _FINDING.match(line)
        number = match["number"] if match else "-"
        if number == "-" or number in own or match is None:
            mine.append(line)
            continue
        foreign.append(line)
        try:
            foreign_effect[match["currency"]] += Decimal(match["effect"])
        except ArithmeticError:
            mine.append(line)  # an effect it cannot read: not set aside
    own_difference = {c: str(Decimal(t["difference"]) - foreign_effect.get(c, Decimal(0)))
                      for c, t in parsed["currencies"].items()}
    reconciled = bool(parsed["currencies"]) and not mine and all(Decimal(d) == 0 for d in own_difference.values())
    return {"own_findings": mine, "foreign_findings": foreign, "own_difference": own_difference,
            "foreign_effect": {c: str(e) for c, e in foreign_effect.items()}, "reconciled": reconciled}


def _run_export(port: int, first: str, last: str, ledger: Path
                ) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    from oms.finance import parse_reconciliation

    command = [sys.executable, "-m", "oms", "finance", "export", "--from", first, "--to", last, "--format", "csv",
               "--output", str(ledger)]
    env = {**os.environ, "OMS_PORT": str(port), "NO_COLOR": "1", "COLUMNS": "200"}
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    return result, parse_reconciliation(result.stdout)


def export_day(base_url: str, first: str, last: str, timeout: float, progress: Progress,
               orders: set[str] | None = None) -> dict[str, Any]:
    """Finance's export of the demo's day, asked again until the demo's own documents (those of
    ``orders``) reconcile or ``timeout`` passes (the archive fills as Firehose delivers): the
    reconciliation as the command printed it, and how it reads for the demo (``judge``)."""
    port = urlsplit(base_url).port or 80
    progress.phase("exporting the day's books")
    deadline = time.monotonic() + timeout
    with tempfile.TemporaryDirectory(prefix="oms-demo-") as tmp:
        ledger = Path(tmp) / "ledger.csv"
        while True:
            result, parsed = _run_export(port, first, last, ledger)
            books = judge(parsed, own_documents(ledger, orders or set(), parsed["findings"]))
            reconciled = result.returncode == 0 and books["reconciled"]
            # an export that cannot run (exit 1: no archive, no stack) is not asked again
            if reconciled or result.returncode == 1 or time.monotonic() + EXPORT_POLL_SECONDS > deadline:
                break
            progress.update(note="waiting for the archive")
            time.sleep(EXPORT_POLL_SECONDS)
        rows = max(0, len(ledger.read_text().splitlines()) - 1) if ledger.exists() else 0
    progress.end("reconciled" if reconciled else "NOT reconciled")
    lines = [ln for ln in result.stdout.splitlines() if ln.strip()]
    return {"command": f"oms finance export --from {first} --to {last}", "from": first, "to": last,
            "exit_code": result.returncode, "ledger_rows": rows, "reconciled": reconciled,
            "currencies": parsed["currencies"], "findings": parsed["findings"], "difference": parsed["difference"],
            "own_findings": books["own_findings"], "foreign_findings": books["foreign_findings"],
            "foreign_effect": books["foreign_effect"], "own_difference": books["own_difference"],
            "lines": lines, "error": "" if result.returncode == 0 else result.stderr.strip()[-2000:]}


def render_finance(finance: dict[str, Any]) -> str:
    head = f"Finance: {finance['command']}  ({finance['ledger_rows']} ledger rows)"
    if finance["exit_code"] != 0:
        return f"{head}\n  the export failed: {finance['error'] or 'exit ' + str(finance['exit_code'])}"
    out = [head, *(f"  {ln}" for ln in finance["lines"])]
    foreign = finance.get("foreign_findings") or []
    if foreign:
        moved = ", ".join(f"{c} {e}" for c, e in sorted(finance["foreign_effect"].items()))
        out.append(f"  {len(foreign)} finding(s) above are about documents this run did not make (an earlier "
                   "run's order still in flight, or another client's, on this stack); they move the "
                   f"difference by {moved}.")
    own = ", ".join(f"{c} {d}" for c, d in sorted((finance.get("own_difference") or {}).items()))
    reconciled = finance.get("reconciled", True)
    if foreign or not reconciled:
        verdict = "reconcile" if reconciled else "do NOT reconcile"
        mine = finance.get("own_findings") or []
        out.append(f"  The demo's own documents {verdict}: difference without those findings {own}"
                   + (f"; {len(mine)} finding(s) about them" if mine else "") + ".")
    return "\n".join(out)


# --------------------------------------------------------------------------------------------- main


def demo(args: argparse.Namespace, base_url: str, progress: Progress, started: float) -> dict[str, Any]:
    run_tag = uuid.uuid4().hex[:6].upper()
    planned = plan_orders(args.orders, args.seed, run_tag)
    api = Api(base_url, connections=2 * WORKERS)
    pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="demo")
    run = Run(api, pool, progress, args.timeout)
    try:
        ok(api.http.get("/health"), f"no OMS at {base_url}")
        stock_up(run, stock_plan(planned))
        place_orders(run, planned, run_tag)
        dispatch_all(run)
        settle(run)
        return_some(run, run_tag)
        # the orders are settled; notices of the last dispatches may still be on their way
        if run.can_settle:
            api.wait_idle(IDLE_WAIT_SECONDS * 6)
        outbox = api.outbox()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        api.close()
    summary = summarise(run, outbox, seed=args.seed, requested=args.orders, seconds=time.monotonic() - started,
                        base_url=base_url)
    first, last = demo_days(run.views.values())
    summary["finance"] = export_day(base_url, first, last, args.timeout, progress, own_orders(run.views.values()))
    return summary


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m localcloud.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=50, help="how many orders to place (default 50)")
    parser.add_argument("--port", type=int, default=0, help="port for the stack the demo starts (0: a free one)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the demo's randomness (default 7)")
    parser.add_argument("--url", help="use the OMS already running here instead of starting one")
    parser.add_argument("--keep", action="store_true",
                        help="keep the stack the demo started serving after the summary (its mail page), until Ctrl-C")
    parser.add_argument("--json", metavar="PATH", help="also write the summary as JSON here")
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="seconds to wait for dispatching and for settling, each (default 120)")
    args = parser.parse_args(argv)
    if args.orders < 0:
        parser.error("--orders must be >= 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    progress = Progress()
    stack: LocalStack | None = None
    previous = None
    if threading.current_thread() is threading.main_thread():  # SIGTERM stops the stack too
        previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        if args.url:
            base_url = args.url.rstrip("/")
        else:
            stack = LocalStack(args.port)
            progress.phase("starting stack")
            try:
                base_url = stack.start()
            except StackNotReady as e:
                progress.end("failed")
                print(e, file=sys.stderr)
                return 2
            progress.end(base_url)
        try:
            summary = demo(args, base_url, progress, started)
        except (ApiError, httpx.HTTPError) as e:
            progress.end("failed")
            print(f"demo stopped: {type(e).__name__}: {e}", file=sys.stderr)
            if stack is not None:
                print("the stack's last log lines:\n" + stack.tail(), file=sys.stderr)
            return 1
        progress.close()
        mail_hint = "" if stack is None or args.keep else "  (served while the stack runs: try --keep)"
        print(render(summary, stream=sys.stdout, mail_hint=mail_hint), flush=True)
        print("\n" + render_finance(summary["finance"]), flush=True)
        if args.json:
            Path(args.json).write_text(json.dumps(summary, indent=2) + "\n")
        failed = bool(summary["orders"]["failed"] or summary["invoices"]["mismatched_orders"]
                      or summary["returns"]["failed"] or not summary["finance"]["reconciled"])
        if args.keep and stack is not None:
            print(f"\nThe stack keeps serving at {base_url}; its mail: {base_url}/_local/mail. Ctrl-C to stop.",
                  flush=True)
            try:
                threading.Event().wait()
            except KeyboardInterrupt:
                print("stopping the stack", file=sys.stderr)
        return 1 if failed else 0
    except KeyboardInterrupt:
        progress.close()
        print("\ninterrupted", file=sys.stderr)
        return 130
    finally:
        progress.close()
        if stack is not None:
            stack.stop()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
