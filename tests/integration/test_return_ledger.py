"""The return ledger on the deployed local stack, through the adapters: six authorisations of one
unit of a line of three, released together, each with its own client as six functions would be —
exactly three land, the others are refused by the write's conditions (the ledger's count as read,
the return's id new) and judged again, not by a read that happened to come late; the ledger holds
three. Without those conditions six land. And a return of every line of a 250-line order is one
write like any other (the ledger's expression does not grow with the lines)."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

import boto3
import httpx
import pytest

from functions.core.adapters.dynamodb import from_item, to_item
from functions.core.adapters.keys import return_ledger_key
from functions.core.adapters.order_reader import OrderTableReader
from functions.core.errors import ValidationFailed
from functions.core.orders import TimelineEntry
from functions.core.principal import Principal
from functions.core.returns import Return, ReturnLine, ReturnOutcome, ReturnReason, ReturnStatus, return_id_for
from functions.returns.adapters.return_table import ReturnNodeReader, ReturnTable
from functions.returns.authorizing import RequestedLine, ReturnRequest, ReturnService
from functions.returns.ports import LedgerMoved
from localcloud.server import LocalCloud
from tests.e2e.conftest import KEYS
from tests.e2e.orders import key
from tests.e2e.test_allocation import order_for
from tests.e2e.test_capture_api import post_order

pytestmark = pytest.mark.timeout(120)

WEBSHOP = Principal("channel", "webshop")


class Counting(ReturnTable):
    """The real adapter, counting the writes its conditions refused."""

    refused: list[str] = []

    def authorize(self, *args: Any, **kwargs: Any) -> None:
        try:
            super().authorize(*args, **kwargs)
        except LedgerMoved:
            Counting.refused.append("ledger")
            raise


def dispatched_order(cloud: LocalCloud, units: int) -> str:
    item = f"SKU-R{__import__('uuid').uuid4().hex[:10].upper()}"
    with httpx.Client(base_url=cloud.frontdoor_url, timeout=30) as http:
        dc = {"x-api-key": KEYS["dc"]}
        assert http.put(f"/inventory/{item}/nodes/DC-BERLIN", headers=dc, json={"on_hand": 10}).status_code == 200
        order_id = post_order(http, order_for([{"sku": item, "quantity": units, "unit_price": "4.00"}]),
                              key()).json()["order_id"]
        cloud.settle()
        (shipment,) = [s for s in http.get("/shipments", headers=dc, params={"limit": 100}).json()["shipments"]
                       if s["order_id"] == order_id]
        r = http.post(f"/shipments/{shipment['shipment_id']}/dispatch", headers=dc,
                      json={"carrier": "DHL", "tracking_number": "TRK1"})
        assert r.status_code == 200, r.text
        cloud.settle()
    return order_id


def test_six_authorisations_of_a_line_of_three_at_once_land_three(cloud: LocalCloud, outputs: dict[str, str]) -> None:
    table = outputs["TableName"]
    order_id = dispatched_order(cloud, 3)
    Counting.refused = []
    start = threading.Barrier(6, timeout=20)
    outcomes: list[str] = []

    def one() -> None:
        client = boto3.client("dynamodb")  # each its own, as six functions would have
        svc = ReturnService(orders=OrderTableReader(table, client), store=Counting(table, client),
                            nodes=ReturnNodeReader(table, client))
        start.wait()
        try:
            svc.authorize(order_id, WEBSHOP, ReturnRequest((RequestedLine("1", 1, ReturnReason.OTHER),)))
            outcomes.append("authorised")
        except ValidationFailed:
            outcomes.append("refused")

    threads = [threading.Thread(target=one) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=90)
    assert sorted(outcomes) == ["authorised"] * 3 + ["refused"] * 3, outcomes
    # the writes really raced: at least one was refused by the ledger's condition
    assert Counting.refused, "no conditional write was refused: the authorisations did not overlap"
    ledger = from_item(boto3.client("dynamodb").get_item(
        TableName=table, Key=to_item(return_ledger_key(order_id)), ConsistentRead=True)["Item"])
    assert ledger["returns"] == 3 and ledger["lines"] == {"1": 3}
    order = OrderTableReader(table).get(order_id)
    assert order is not None and len(order.returns) == 3 and order.returning == {"1": 3}


def test_a_return_of_every_line_of_a_250_line_order_is_one_write(outputs: dict[str, str]) -> None:
    table = outputs["TableName"]
    order_id = f"ord_{__import__('uuid').uuid4().hex[:26].upper()}"
    now = "2026-12-03T10:00:00.000Z"
    lines = tuple(ReturnLine(str(n), f"SKU-{n}", 2, ReturnReason.CHANGED_MIND) for n in range(1, 251))
    ret = Return(return_id=return_id_for(order_id, 1), rma_number="RMA-X", order_id=order_id, channel="webshop",
                 status=ReturnStatus.AUTHORIZED, outcome=ReturnOutcome.REFUND, lines=lines, return_to_node="DC-BERLIN",
                 return_to_address={"city": "Berlin", "country": "DE"}, created_at=now, updated_at=now)
    entry = TimelineEntry(at=now, event="ReturnAuthorized", detail={"return_id": ret.return_id})
    # a ledger holding one unit of line 7 already
    ReturnTable(table).authorize(ret, returns_before=0, returning={"7": 1}, entry=entry)
    ledger = from_item(boto3.client("dynamodb").get_item(
        TableName=table, Key=to_item(return_ledger_key(order_id)), ConsistentRead=True)["Item"])
    assert ledger["returns"] == 1 and len(ledger["lines"]) == 250
    assert ledger["lines"]["7"] == 3 and ledger["lines"]["250"] == 2
    # and the same count again is refused, nothing written
    with pytest.raises(LedgerMoved):
        ReturnTable(table).authorize(replace(ret, return_id=return_id_for(order_id, 2)), returns_before=0,
                                     returning={}, entry=entry)


def test_a_close_racing_four_authorisations_gives_back_only_its_own_units(
        cloud: LocalCloud, outputs: dict[str, str]) -> None:
    """A line of six, two units on their way back in a return an agent closes while four more
    single units are authorised at once (each its own client): every authorisation lands (four
    fit whether or not the close came first), the closed return's two units go back, and the
    ledger ends at the four others — a close that read the ledger before an authorisation never
    writes its stale lines back, because every ledger writer holds its version."""
    from functions.returns.closing import ClosingService

    class CountingEnds(Counting):
        def end(self, *args: Any, **kwargs: Any) -> None:
            try:
                super().end(*args, **kwargs)
            except LedgerMoved:
                Counting.refused.append("ledger")
                raise

    table = outputs["TableName"]
    order_id = dispatched_order(cloud, 6)
    agent = Principal("agent", "a-1")
    first = ReturnService(orders=OrderTableReader(table), store=ReturnTable(table), nodes=ReturnNodeReader(table)
                          ).authorize(order_id, WEBSHOP, ReturnRequest((RequestedLine("1", 2, ReturnReason.OTHER),)))
    Counting.refused = []
    start = threading.Barrier(5, timeout=20)
    outcomes: list[str] = []

    def authorise() -> None:
        client = boto3.client("dynamodb")
        svc = ReturnService(orders=OrderTableReader(table, client), store=CountingEnds(table, client),
                            nodes=ReturnNodeReader(table, client))
        start.wait()
        svc.authorize(order_id, WEBSHOP, ReturnRequest((RequestedLine("1", 1, ReturnReason.OTHER),)))
        outcomes.append("authorised")

    def close() -> None:
        client = boto3.client("dynamodb")
        svc = ClosingService(orders=OrderTableReader(table, client), store=CountingEnds(table, client))
        start.wait()
        outcomes.append(svc.decide(first.view["return_id"], agent, "close", "never sent")["status"])

    threads = [threading.Thread(target=authorise) for _ in range(4)] + [threading.Thread(target=close)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=90)
    assert sorted(outcomes) == ["CLOSED", *["authorised"] * 4], outcomes
    assert Counting.refused, "no conditional write was refused: the writers did not overlap"
    order = OrderTableReader(table).get(order_id)
    assert order is not None and order.returning == {"1": 4}
    assert sorted(r.status.value for r in order.returns) == ["AUTHORIZED"] * 4 + ["CLOSED"]
    (closed,) = [e for e in order.timeline if e.event == "ReturnClosed"]
    assert closed.detail["given_back"] == [{"line_id": "1", "quantity": 2}]
