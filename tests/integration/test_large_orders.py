"""Large orders (issue 11) on the deployed local stack, through the adapters: a reservation in
parts, its dispatch and its cancel, each part idempotent by its marker, with compensation when a
later part fails — and stock conserved exactly through crashes, repeats and races.

The limits are lowered for these tests (an order of more than 3 records is "large", a part holds
2 records, a dispatch of more than 2 records goes by parts), so small orders exercise every path
the 250-line order of tests/e2e/test_large_orders.py takes."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import boto3
import httpx
import pytest
from botocore.exceptions import ClientError

from functions.allocate.adapters import reservation_table
from functions.allocate.adapters.reservation_table import ReservationTable
from functions.allocate.adapters.stock_table import StockTable
from functions.allocate.ports import StockMoved
from functions.allocate.reservations import ReservationService
from functions.capture.adapters.order_table import OrderTable
from functions.capture.cancellation import Cancellation
from functions.core.adapters import reservation_parts
from functions.core.adapters.dynamodb import from_item, to_item, to_value
from functions.core.adapters.keys import header_key, order_pk, sku_pk, stock_key
from functions.core.errors import Conflict
from functions.core.events import utc_now
from functions.core.orders import CancelReason, Order, OrderStatus, PartStatus, ShipmentStatus
from functions.core.principal import Principal
from functions.core.sourcing import Allocation
from functions.route.adapters import shipment_table
from functions.route.adapters.shipment_table import ShipmentTable
from functions.route.fulfilment import FulfilmentService
from localcloud.server import LocalCloud
from tests.e2e.orders import key
from tests.e2e.test_allocation import order_for
from tests.e2e.test_capture_api import post_order

pytestmark = pytest.mark.timeout(180)

AGENT = Principal(role="agent", principal_id="agent-1")
SHIP_TO = {"name": "Ada", "line1": "Unter den Linden 1", "city": "Berlin", "postal_code": "10117", "country": "DE"}


@pytest.fixture(autouse=True)
def small_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reservation_table, "MAX_STOCK_RECORDS_PER_ORDER", 3)
    monkeypatch.setattr(reservation_parts, "PART_RECORDS", 2)
    monkeypatch.setattr(shipment_table, "TRANSACTION_ACTIONS", 4)


@pytest.fixture(scope="module")
def table(outputs: dict[str, str]) -> str:
    return outputs["TableName"]


class Crash(Exception):
    """The function died right after this write committed (its answer never arrived)."""


class Client:
    """A DynamoDB client of its own (one per thread), recording every refused transaction, and
    dying after the ``crash_after``-th committed one."""

    def __init__(self, crash_after: int | None = None) -> None:
        self.real = boto3.client("dynamodb")
        self.crash_after, self.committed, self.refused = crash_after, 0, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def transact_write_items(self, **kwargs: Any) -> Any:
        try:
            answer = self.real.transact_write_items(**kwargs)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "TransactionCanceledException":
                self.refused += 1
            raise
        self.committed += 1
        if self.committed == self.crash_after:
            raise Crash()
        return answer


def captured_orders(cloud: LocalCloud, table: str, count: int, lines: int = 6, *, stock: int = 5
                    ) -> list[tuple[Order, list[Allocation]]]:
    """``count`` new CAPTURED orders of ``lines`` SKUs each, every SKU stocked ``stock`` at one
    node (the first half at the DC, the rest at the store), and the plan a Plan task would make.
    Placed through the API without stock (the workflow backorders them), then set back to
    CAPTURED, so nothing but the test writes them."""
    made: list[tuple[str, list[str]]] = []
    with httpx.Client(base_url=cloud.frontdoor_url, timeout=30) as http:
        for _ in range(count):
            skus = [f"SKU-L{uuid.uuid4().hex[:10].upper()}" for _ in range(lines)]
            body = order_for([{"sku": s, "quantity": 2, "unit_price": "1.00"} for s in skus])
            made.append((post_order(http, body, key()).json()["order_id"], skus))
    cloud.settle()
    db = boto3.client("dynamodb")
    out = []
    for order_id, skus in made:
        for s in skus:  # the backorder's waiting entries go, so no restock of the test wakes it
            waiting = db.query(TableName=table, ConsistentRead=True,
                               KeyConditionExpression="PK = :pk AND begins_with(SK, :p)",
                               ExpressionAttributeValues={":pk": to_value(sku_pk(s)), ":p": to_value("BACKORDER#")})
            for item in waiting["Items"]:
                db.delete_item(TableName=table, Key={"PK": item["PK"], "SK": item["SK"]})
        db.update_item(TableName=table, Key=to_item(header_key(order_id)),
                       UpdateExpression="SET #s = :c REMOVE accepted_by", ExpressionAttributeNames={"#s": "status"},
                       ExpressionAttributeValues={":c": to_value("CAPTURED")})
        plan = []
        for i, s in enumerate(skus):
            node = "DC-BERLIN" if i < lines // 2 else "STORE-MUNICH"
            # written as a count, not as a restock (no restock mark)
            db.put_item(TableName=table, Item=to_item({
                **stock_key(s, node), "type": "stock", "sku": s, "node_id": node, "on_hand": stock,
                "reserved": 0, "available": stock, "updated_at": utc_now(), "version": 1}))
            plan.append(Allocation(str(i + 1), s, node, 2))
        order = OrderTable(table).get(order_id)
        assert order is not None and order.status == OrderStatus.CAPTURED
        out.append((order, plan))
    return out


def reserve(table: str, order: Order, plan: list[Allocation], execution: str, client: Any = None) -> dict[str, Any]:
    store = ReservationTable(table, client or boto3.client("dynamodb"))
    return ReservationService(store).reserve(order.order_id, execution, plan, SHIP_TO, "standard")


def levels(table: str, plan: list[Allocation]) -> dict[str, tuple[int, int, int]]:
    """(on_hand, reserved, available) of each planned record."""
    db = boto3.client("dynamodb")
    out = {}
    for a in plan:
        item = from_item(db.get_item(TableName=table, ConsistentRead=True, Key=to_item(stock_key(a.sku, a.node_id)))
                         ["Item"])
        out[a.sku] = (int(item["on_hand"]), int(item["reserved"]), int(item["available"]))
    return out


def markers(table: str, order_id: str) -> list[dict[str, Any]]:
    page = boto3.client("dynamodb").query(
        TableName=table, ConsistentRead=True, KeyConditionExpression="PK = :pk AND begins_with(SK, :p)",
        ExpressionAttributeValues={":pk": to_value(order_pk(order_id)), ":p": to_value("RESERVE#")})
    return [from_item(i) for i in page["Items"]]


def header(table: str, order_id: str) -> dict[str, Any]:
    return from_item(boto3.client("dynamodb").get_item(TableName=table, ConsistentRead=True,
                                                       Key=to_item(header_key(order_id)))["Item"])


def reserved_once(table: str, plan: list[Allocation], stock: int = 5) -> bool:
    return all(v == (stock, 2, stock - 2) for v in levels(table, plan).values())


def released(table: str, plan: list[Allocation], stock: int = 5) -> bool:
    return all(v == (stock, 0, stock) for v in levels(table, plan).values())


@pytest.fixture
def one(cloud: LocalCloud, table: str) -> tuple[Order, list[Allocation]]:
    return captured_orders(cloud, table, 1)[0]


def test_a_large_order_is_reserved_in_parts_and_its_status_changes_with_the_last(
        table: str, one: tuple[Order, list[Allocation]]) -> None:
    order, plan = one
    # When the order (6 records: "large") is reserved
    result = reserve(table, order, plan, "exec-A")
    # Then it is in fulfilment with a shipment per node, each record reserved once
    assert result["reserved"] is True and result["status"] == "IN_FULFILLMENT" and len(result["shipments"]) == 2
    assert reserved_once(table, plan)
    # And the plan is in 4 parts of 2 records (3 at each node), not on the header
    parts = markers(table, order.order_id)
    assert sorted((p["node_id"], len(p["lines"]), p["status"]) for p in parts) == [
        ("DC-BERLIN", 1, "RESERVED"), ("DC-BERLIN", 2, "RESERVED"),
        ("STORE-MUNICH", 1, "RESERVED"), ("STORE-MUNICH", 2, "RESERVED")]
    h = header(table, order.order_id)
    assert "allocation" not in h and h["reserved_parts"] == 4 and "reserving_by" not in h
    # And every reader sees the plan as before
    fresh = OrderTable(table).get(order.order_id)
    assert fresh is not None and sorted(fresh.allocations, key=str) == sorted(plan, key=str)
    # When the task runs again (Express runs at least once), Then nothing changes
    assert reserve(table, order, plan, "exec-A")["reserved"] is True
    assert reserved_once(table, plan) and len(markers(table, order.order_id)) == 4


def test_a_reserve_that_dies_after_any_write_is_finished_by_its_retry_never_doubled(
        cloud: LocalCloud, table: str) -> None:
    # the claim, 4 parts, the transition: 6 transactions; the function dies after each in turn
    for (order, plan), crash_after in zip(captured_orders(cloud, table, 6), range(1, 7), strict=True):
        with pytest.raises(Crash):
            reserve(table, order, plan, "exec-A", Client(crash_after=crash_after))
        # Then the retry (the workflow's) finishes it, each part reserved once
        assert reserve(table, order, plan, "exec-A")["reserved"] is True, crash_after
        assert reserved_once(table, plan), crash_after
        assert len(markers(table, order.order_id)) == 4 and header(table, order.order_id)["status"] == "IN_FULFILLMENT"


def test_a_later_part_meeting_moved_stock_gives_back_the_earlier_ones(
        table: str, one: tuple[Order, list[Allocation]]) -> None:
    order, plan = one
    # Given the record of the plan's last part (the store's, by SKU) has fewer units than planned
    last = max((a for a in plan if a.node_id == "STORE-MUNICH"), key=lambda a: a.sku)
    StockTable(table).set_on_hand(last.sku, last.node_id, 1, utc_now())
    # When the order is reserved, Then StockMoved, and the parts reserved before are given back
    with pytest.raises(StockMoved):
        reserve(table, order, plan, "exec-A")
    assert released(table, [a for a in plan if a != last]) and levels(table, [last])[last.sku] == (1, 0, 1)
    assert markers(table, order.order_id) == [] and header(table, order.order_id)["status"] == "CAPTURED"
    # And once the stock is back, the next plan of the same execution reserves it all
    StockTable(table).set_on_hand(last.sku, last.node_id, 5, utc_now())
    assert reserve(table, order, plan, "exec-A")["reserved"] is True and reserved_once(table, plan)


def test_a_new_execution_releases_what_a_dead_one_left_and_reserves_once(
        table: str, one: tuple[Order, list[Allocation]]) -> None:
    order, plan = one
    # Given an execution that died for good after two parts (its workflow failed)
    with pytest.raises(Crash):
        reserve(table, order, plan, "exec-dead", Client(crash_after=3))
    assert len(markers(table, order.order_id)) == 2
    # When another execution (the reconciler's resume) reserves the order
    assert reserve(table, order, plan, "exec-new")["reserved"] is True
    # Then the dead one's parts were given back: each record reserved once, only the new parts left
    assert reserved_once(table, plan)
    assert {m["execution_id"] for m in markers(table, order.order_id)} == {"exec-new"}
    # And the dead execution, were it to come back, changes nothing
    assert reserve(table, order, plan, "exec-dead")["reserved"] is False and reserved_once(table, plan)


def test_two_executions_reserving_one_large_order_at_once_reserve_it_once(cloud: LocalCloud, table: str) -> None:
    # Given two executions of one order (Express runs at least once), with stock for both
    for order, plan in captured_orders(cloud, table, 3, stock=10):
        barrier = threading.Barrier(2, timeout=10)
        clients = [Client(), Client()]
        results: dict[str, Any] = {}

        def run(execution: str, client: Client, order: Order = order, plan: list[Allocation] = plan,
                barrier: threading.Barrier = barrier, results: dict[str, Any] = results) -> None:
            barrier.wait()
            try:
                results[execution] = reserve(table, order, plan, execution, client)
            except BaseException as exc:  # surfaced below
                results[execution] = exc

        threads = [threading.Thread(target=run, args=(e, c)) for e, c in zip(("exec-1", "exec-2"), clients,
                                                                               strict=True)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        # Then exactly one carries the order, and every record is reserved once
        assert [r["reserved"] for r in results.values() if isinstance(r, dict)].count(True) == 1, results
        assert reserved_once(table, plan, stock=10)
        winner = header(table, order.order_id)["accepted_by"]
        assert {m["execution_id"] for m in markers(table, order.order_id)} == {winner}
        # And a conditional write of the loser was refused (its claim lost, or its part's header check)
        assert sum(c.refused for c in clients) >= 1


def test_a_cancel_racing_a_large_reserve_gives_back_every_unit(cloud: LocalCloud, table: str) -> None:
    for order, plan in captured_orders(cloud, table, 3):
        barrier = threading.Barrier(2, timeout=10)
        reserve_client, cancel_client = Client(), Client()
        errors: list[BaseException] = []

        def reserving(order: Order = order, plan: list[Allocation] = plan, barrier: threading.Barrier = barrier,
                      reserve_client: Client = reserve_client, errors: list[BaseException] = errors) -> None:
            barrier.wait()
            try:
                reserve(table, order, plan, "exec-A", reserve_client)
            except BaseException as exc:
                errors.append(exc)

        def cancelling(order: Order = order, barrier: threading.Barrier = barrier,
                       cancel_client: Client = cancel_client, errors: list[BaseException] = errors) -> None:
            barrier.wait()
            for _ in range(20):  # a client retries a 409 "try again"
                try:
                    Cancellation(OrderTable(table, cancel_client)).cancel(order.order_id, AGENT, CancelReason.CUSTOMER)
                    return
                except Conflict:
                    continue
            errors.append(AssertionError("the cancel never got through"))

        threads = [threading.Thread(target=reserving), threading.Thread(target=cancelling)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors, errors
        # Then the order is cancelled and every unit is back, whichever came first
        assert header(table, order.order_id)["status"] == "CANCELLED"
        assert released(table, plan) and markers(table, order.order_id) == []
        assert reserve_client.refused + cancel_client.refused >= 1


def test_a_cancel_that_stops_half_way_is_finished_by_cancelling_again(
        table: str, one: tuple[Order, list[Allocation]]) -> None:
    order, plan = one
    assert reserve(table, order, plan, "exec-A")["reserved"] is True
    # When the cancel dies after its first transaction (the order CANCELLED) and one release
    with pytest.raises(Crash):
        Cancellation(OrderTable(table, Client(crash_after=2))).cancel(order.order_id, AGENT, CancelReason.CUSTOMER)
    assert header(table, order.order_id)["status"] == "CANCELLED" and len(markers(table, order.order_id)) == 3
    # Then cancelling again (the client's retry) gives back the rest, each part once
    again = Cancellation(OrderTable(table)).cancel(order.order_id, AGENT, CancelReason.CUSTOMER)
    assert again.status == OrderStatus.CANCELLED and released(table, plan) and markers(table, order.order_id) == []
    fresh = OrderTable(table).get(order.order_id)
    assert fresh is not None and all(s.status == ShipmentStatus.CANCELLED for s in fresh.shipments)
    (entry,) = [e for e in fresh.timeline if e.event == "StockReleased"]
    assert entry.detail == {"lines": 6, "units": 12, "parts": 4}


def dispatch(table: str, order_id: str, node: str, client: Any = None) -> dict[str, Any]:
    service = FulfilmentService(orders=OrderTable(table),
                                store=ShipmentTable(table, client or boto3.client("dynamodb")))
    order = OrderTable(table).get(order_id)
    assert order is not None
    (shipment,) = [s for s in order.shipments if s.node_id == node]
    return service.dispatch(shipment.shipment_id, Principal(role="node", principal_id=node), "DHL", "TRACK-1")


def test_a_large_shipment_is_dispatched_in_parts_once(table: str, one: tuple[Order, list[Allocation]]) -> None:
    order, plan = one
    assert reserve(table, order, plan, "exec-A")["reserved"] is True
    # When the DC's shipment (3 records: more than a dispatch transaction takes here) dies after its first part
    with pytest.raises(Crash):
        dispatch(table, order.order_id, "DC-BERLIN", Client(crash_after=1))
    # Then the order still cannot be cancelled (its stock is leaving), and the node's retry finishes it
    with pytest.raises(Conflict, match="being dispatched"):
        Cancellation(OrderTable(table)).cancel(order.order_id, AGENT, CancelReason.CUSTOMER)
    assert dispatch(table, order.order_id, "DC-BERLIN")["status"] == "DISPATCHED"
    assert dispatch(table, order.order_id, "DC-BERLIN")["status"] == "DISPATCHED"  # a repeat changes nothing
    dc = [a for a in plan if a.node_id == "DC-BERLIN"]
    assert all(v == (3, 0, 3) for v in levels(table, dc).values())  # 2 units of 5 left, once
    assert header(table, order.order_id)["status"] == "PARTIALLY_SHIPPED"
    assert {m["status"] for m in markers(table, order.order_id) if m["node_id"] == "DC-BERLIN"} == {"SHIPPED"}
    # And the store's shipment completes the order's shipping
    assert dispatch(table, order.order_id, "STORE-MUNICH")["status"] == "DISPATCHED"
    assert header(table, order.order_id)["status"] in ("SHIPPED", "COMPLETED")
    assert all(v == (3, 0, 3) for v in levels(table, plan).values())


def test_a_large_dispatch_refused_for_stock_in_a_later_part_gives_the_earlier_parts_back(
        table: str, one: tuple[Order, list[Allocation]]) -> None:
    order, plan = one
    assert reserve(table, order, plan, "exec-A")["reserved"] is True
    # Given the DC's last record edited around the API (fewer units than reserved)
    last = max((a for a in plan if a.node_id == "DC-BERLIN"), key=lambda a: a.sku)  # in the DC's second part
    boto3.client("dynamodb").update_item(TableName=table, Key=to_item(stock_key(last.sku, last.node_id)),
                                         UpdateExpression="SET on_hand = :one",
                                         ExpressionAttributeValues={":one": to_value(1)})
    # When the DC dispatches, Then 409 naming the record, and nothing shipped
    with pytest.raises(Conflict, match=last.sku):
        dispatch(table, order.order_id, "DC-BERLIN")
    dc = [a for a in plan if a.node_id == "DC-BERLIN" and a != last]
    assert all(v == (5, 2, 3) for v in levels(table, dc).values())
    assert {m["status"] for m in markers(table, order.order_id)} == {PartStatus.RESERVED.value}
    fresh = OrderTable(table).get(order.order_id)
    assert fresh is not None and fresh.status == OrderStatus.IN_FULFILLMENT
    assert {s.status for s in fresh.shipments} == {ShipmentStatus.REQUESTED}


def test_an_order_that_fits_one_transaction_is_reserved_as_before_without_a_part(cloud: LocalCloud, table: str) -> None:
    # Given an order of 3 records (the lowered limit here: it fits one transaction)
    ((order, plan),) = captured_orders(cloud, table, 1, lines=3)
    client = Client()
    # When it is reserved, Then one transaction wrote it, with the plan on the header and no part
    assert reserve(table, order, plan, "exec-A", client)["reserved"] is True
    assert client.committed == 1 and client.refused == 0 and markers(table, order.order_id) == []
    h = header(table, order.order_id)
    assert len(h["allocation"]) == 3 and "reserved_parts" not in h and "reserving_by" not in h
    # And its cancel is one transaction too
    cancelling = Client()
    Cancellation(OrderTable(table, cancelling)).cancel(order.order_id, AGENT, CancelReason.CUSTOMER)
    assert cancelling.committed == 1 and released(table, plan)
