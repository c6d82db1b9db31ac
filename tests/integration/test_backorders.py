"""Backorders come alive, on the deployed local stack: a backordered order waits in each of its
SKUs' partitions, a restock runs the waiting orders again oldest first (the capture stream
function, StartSyncExecution), and an order is allocated exactly once however many executions
try at the same moment."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import boto3
import pytest

from functions.core.errors import TransientError
from localcloud.server import LocalCloud
from tests.e2e.orders import new_order
from tests.integration.test_capture_flows import feed_message, orders_of, send_intake

pytestmark = pytest.mark.timeout(180)
AT = "2026-12-01T00:00:00.000Z"


def sku() -> str:
    return f"SKU-BO-{uuid.uuid4().hex[:8]}"


def partition(outputs: dict[str, str], item: str) -> list[dict[str, Any]]:
    from functions.core.adapters.dynamodb import from_item

    found = boto3.client("dynamodb").query(TableName=outputs["TableName"], ConsistentRead=True,
                                           KeyConditionExpression="PK = :p",
                                           ExpressionAttributeValues={":p": {"S": f"SKU#{item}"}})["Items"]
    return [from_item(i) for i in found]


def waiting_ids(outputs: dict[str, str], item: str) -> list[str]:
    return [i["order_id"] for i in partition(outputs, item) if str(i["SK"]).startswith("BACKORDER#")]


def header(outputs: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    from functions.core.adapters.dynamodb import from_item

    return from_item(orders_of(outputs, "webshop", body["channel_order_id"])[0])


def backordered(cloud: LocalCloud, outputs: dict[str, str], lines: list[tuple[str, int]]) -> dict[str, Any]:
    body = new_order(lines=[{"sku": s, "quantity": q, "unit_price": "1.00"} for s, q in lines],
                     payment={"method": "card", "authorization_id": "a", "amount": "100.00"})
    send_intake(outputs, "webshop", feed_message(body))
    cloud.settle()
    found = header(outputs, body)
    assert found["status"] == "BACKORDERED", found
    return body


def test_a_backordered_order_waits_on_each_of_its_skus_once_and_a_rerun_adds_nothing(
        cloud: LocalCloud, outputs: dict[str, str], function_names: dict[str, str]) -> None:
    from functions.allocate.adapters.stock_table import StockTable
    from tests.integration.conftest import invoke

    # Given an order for a SKU nobody stocks and one that is in stock
    missing, stocked = sku(), sku()
    StockTable(outputs["TableName"]).set_on_hand(stocked, "DC-BERLIN", 5, AT)
    body = backordered(cloud, outputs, [(missing, 2), (stocked, 1)])
    order = header(outputs, body)
    # Then it waits in both SKUs' partitions (oldest first by its backorder time), once each
    for item, quantity in ((missing, 2), (stocked, 1)):
        (entry,) = [i for i in partition(outputs, item) if str(i["SK"]).startswith("BACKORDER#")]
        assert entry["SK"] == f"BACKORDER#{order['backordered_at']}#{order['order_id']}"
        assert (entry["order_id"], entry["quantity"], entry["skus"]) == (order["order_id"], quantity,
                                                                         sorted([missing, stocked]))
    # When a new execution runs Backorder again (a restock's run that still found no plan)
    _, again = invoke(function_names["allocate-backorder"], {
        "order_id": order["order_id"], "execution_id": "restock-run",
        "wanted": [{"sku": missing, "quantity": 2}, {"sku": stocked, "quantity": 1}]})
    # Then nothing changes: not backordered again (no second notice), no second entry
    assert again["backordered"] is False and again["status"] == "BACKORDERED"
    assert waiting_ids(outputs, missing) == waiting_ids(outputs, stocked) == [order["order_id"]]
    assert header(outputs, body)["accepted_by"] == order["accepted_by"]


def test_stock_for_one_allocates_the_older_backorder_and_the_younger_waits_for_more(
        cloud: LocalCloud, outputs: dict[str, str]) -> None:
    from functions.allocate.adapters.stock_table import StockTable

    # Given two orders for one unit each of a SKU with no stock, the first older
    item = sku()
    older = backordered(cloud, outputs, [(item, 1)])
    younger = backordered(cloud, outputs, [(item, 1)])
    old_id, young_id = header(outputs, older)["order_id"], header(outputs, younger)["order_id"]
    assert waiting_ids(outputs, item) == [old_id, young_id]
    stock = StockTable(outputs["TableName"])
    # When one unit arrives
    stock.set_on_hand(item, "DC-BERLIN", 1, AT)
    cloud.settle()
    # Then the older is allocated by a new execution, the younger still waits, and the restock
    # mark is gone (the consumer saw it)
    allocated = header(outputs, older)
    assert allocated["status"] == "IN_FULFILLMENT"
    assert allocated["accepted_by"] != header(outputs, younger)["accepted_by"]
    assert header(outputs, younger)["status"] == "BACKORDERED"
    assert waiting_ids(outputs, item) == [young_id]
    (record,) = [i for i in partition(outputs, item) if str(i["SK"]).startswith("NODE#")]
    assert (record["reserved"], record["available"]) == (1, 0) and "restocked_at" not in record
    # When another unit arrives (2 on hand, 1 of them reserved)
    stock.set_on_hand(item, "DC-BERLIN", 2, AT)
    cloud.settle()
    # Then the younger is allocated too, and nothing waits any more
    assert header(outputs, younger)["status"] == "IN_FULFILLMENT"
    assert waiting_ids(outputs, item) == []
    (record,) = [i for i in partition(outputs, item) if str(i["SK"]).startswith("NODE#")]
    assert (record["on_hand"], record["reserved"], record["available"]) == (2, 2, 0)


def stocked_quietly(table: str, item: str, on_hand: int) -> None:
    """``on_hand`` units of ``item`` at DC-BERLIN written around the restock (no mark: no run)."""
    boto3.client("dynamodb").put_item(TableName=table, Item={
        "PK": {"S": f"SKU#{item}"}, "SK": {"S": "NODE#DC-BERLIN"}, "sku": {"S": item}, "node_id": {"S": "DC-BERLIN"},
        "on_hand": {"N": str(on_hand)}, "reserved": {"N": "0"}, "available": {"N": str(on_hand)},
        "type": {"S": "stock"}})


def test_two_executions_reserving_one_backordered_order_at_once_allocate_it_once(
        cloud: LocalCloud, outputs: dict[str, str]) -> None:
    from functions.allocate.adapters.reservation_table import ReservationTable
    from functions.allocate.reservations import ReservationService
    from functions.core.sourcing import Allocation

    # Given a backordered order, and stock for it written around the restock (no mark: no run)
    item = sku()
    body = backordered(cloud, outputs, [(item, 1)])
    order_id = header(outputs, body)["order_id"]
    table = outputs["TableName"]
    stocked_quietly(table, item, 3)
    barrier = threading.Barrier(3, timeout=10)
    outcomes: list[Any] = []

    def reserve(execution: str) -> None:
        # each its own client, as two restock runs in two functions' containers
        service = ReservationService(ReservationTable(table, boto3.client("dynamodb")))
        barrier.wait()
        try:
            result = service.reserve(order_id, execution, [Allocation("1", item, "DC-BERLIN", 1)],
                                     {"name": "Ada", "city": "Berlin", "country": "DE"}, "standard")
            outcomes.append((execution, result["reserved"], result["status"]))
        except TransientError as conflict:  # a TransactionConflict: the workflow would retry it
            outcomes.append((execution, "conflict", str(conflict)))

    # When two new executions reserve it at the same moment (plus one more, for overlap)
    threads = [threading.Thread(target=reserve, args=(f"{order_id}-run{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    # Then exactly one reserved it; the others' writes were refused (condition or conflict)
    assert len(outcomes) == 3, outcomes
    winners = [o for o in outcomes if o[1] is True]
    assert len(winners) == 1, outcomes
    assert all(o[1] in (False, "conflict") for o in outcomes if o not in winners), outcomes
    after = header(outputs, body)
    assert after["status"] == "IN_FULFILLMENT" and after["accepted_by"] == winners[0][0]
    (record,) = [i for i in partition(outputs, item) if str(i["SK"]).startswith("NODE#")]
    assert (record["reserved"], record["available"]) == (1, 2)  # reserved once
    shipments = boto3.client("dynamodb").query(
        TableName=table, KeyConditionExpression="PK = :p AND begins_with(SK, :s)",
        ExpressionAttributeValues={":p": {"S": f"ORDER#{order_id}"}, ":s": {"S": "SHIPMENT#"}})["Items"]
    assert len(shipments) == 1
    # And a loser retried (the workflow's Retry) is refused by the status, not allocated again
    loser = next(o for o in outcomes if o not in winners)[0]
    again = ReservationService(ReservationTable(table)).reserve(
        order_id, loser, [Allocation("1", item, "DC-BERLIN", 1)], {"name": "Ada", "country": "DE"}, "standard")
    assert again["reserved"] is False and again["status"] == "IN_FULFILLMENT"


def test_two_restocks_running_one_backordered_order_at_once_allocate_it_once(
        cloud: LocalCloud, outputs: dict[str, str]) -> None:
    from botocore.config import Config

    from functions.capture.restocks import RestockService
    from functions.core.adapters.waiting_backorders import WaitingBackorders
    from functions.core.adapters.workflows import StepFunctionsStarter

    # Given a backordered order for 1 unit, and 5 units put around the restock (no mark: no run)
    item = sku()
    body = backordered(cloud, outputs, [(item, 1)])
    order_id = header(outputs, body)["order_id"]
    table = outputs["TableName"]
    stocked_quietly(table, item, 5)
    barrier = threading.Barrier(2, timeout=10)
    results: list[list[tuple[str, str]]] = []

    class Together(WaitingBackorders):
        """Both restocks read the waiting order before either runs it."""

        def of_sku(self, sku: str) -> tuple[int, list[Any]]:
            found = super().of_sku(sku)
            if found[1]:
                barrier.wait()
            return found

    def restock() -> None:
        # each as its own function's container: own DynamoDB and Step Functions clients
        sync = boto3.client("stepfunctions", config=Config(inject_host_prefix=False, read_timeout=60))
        service = RestockService(Together(table, boto3.client("dynamodb")),
                                 StepFunctionsStarter(outputs["OrderWorkflowArn"], sync_client=sync))
        results.append([(o.order_id, o.result) for o in service.on_restocked(item, "DC-BERLIN", "m", rose=True)])

    # When two stock arrivals' restocks run the order at the same moment
    threads = [threading.Thread(target=restock) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    # Then one run allocated it; the other found it taken (Plan: no longer plannable, or its Reserve
    # refused by the status) and changed nothing
    assert sorted(r for rs in results for _, r in rs) == ["allocated", "gone"], results
    cloud.settle()
    from functions.capture.adapters.order_table import OrderTable

    order = OrderTable(table).get(order_id)
    assert order is not None and order.status.value == "IN_FULFILLMENT"
    assert [e.event for e in order.timeline].count("OrderAllocated") == 1 and len(order.shipments) == 1
    (record,) = [i for i in partition(outputs, item) if str(i["SK"]).startswith("NODE#")]
    assert (record["reserved"], record["available"]) == (1, 4)  # reserved once
    assert waiting_ids(outputs, item) == []
