"""How route's adapters answer what the table refuses, seen at the boundary (the route API, the
Plan task): a dispatch whose stock record is short is told so at once, and a throttled read of
the node network is a 503 with Retry-After (the API) or a TransientError the workflow retries
(Plan) — never a 500 or a failed order."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from functions.core.adapters.node_network import NetworkReader
from functions.core.adapters.order_reader import OrderTableReader
from functions.core.adapters.stock import StockReader
from functions.core.errors import TransientError
from functions.core.orders import OrderStatus
from functions.route import endpoints as route_endpoints
from functions.route.adapters.node_cache import CachedNodes
from functions.route.adapters.node_table import NodeTable
from functions.route.adapters.shipment_table import ShipmentTable
from functions.route.fulfilment import FulfilmentService
from functions.route.handlers import plan as plan_handler
from functions.route.handlers.api import lambda_handler as route_api
from functions.route.nodes import NodeService
from functions.route.planning import PlanService
from tests.unit.fakes import FakeOrderStore
from tests.unit.test_capture_logic import WEBSHOP, Capture, body
from tests.unit.test_http_errors import Context
from tests.unit.test_nodes import BODY
from tests.unit.test_throttled_writes import order_in, request, retry_after


class ShortStockTable:
    """Reads answer with the order's items; every dispatch transaction is cancelled by the stock
    guard (``ship_action``, the third action) as DynamoDB reports it: the shipment and the order
    passed, the stock record does not hold the units."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        from functions.core.adapters.dynamodb import to_item

        self.items = [to_item(i) for i in items]
        self.reads = self.transactions = 0

    def query(self, **_: Any) -> dict[str, Any]:
        self.reads += 1
        return {"Items": self.items}

    def transact_write_items(self, TransactItems: list[Any]) -> None:
        self.transactions += 1
        codes = ["None", "None", "ConditionalCheckFailed"] + ["None"] * (len(TransactItems) - 3)
        raise ClientError({"Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
                           "CancellationReasons": [{"Code": c} for c in codes]}, "TransactWriteItems")


@pytest.mark.timeout(30)
def test_a_dispatch_the_stock_guard_refuses_is_answered_at_once_naming_the_stock(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a shipment of 2 SKU-RED-MUG from DC-BERLIN whose stock record holds fewer (edited around the API)
    monkeypatch.setenv("TABLE_NAME", "t")
    order, items = order_in(OrderStatus.IN_FULFILLMENT)
    table = ShortStockTable(items)
    monkeypatch.setattr(route_endpoints, "fulfilment_service", lambda: FulfilmentService(
        orders=OrderTableReader("t", dynamodb_client=table), store=ShipmentTable("t", dynamodb_client=table)))
    # When the node confirms the dispatch
    shipment_id = f"shp_{order.order_id[4:]}-1"
    result = request(route_api, "POST", f"/shipments/{shipment_id}/dispatch",
                     {"carrier": "DHL", "tracking_number": "00340434161094042557"}, "node", "DC-BERLIN")
    # Then it is a 409 that says what is wrong and what to do, not "keeps changing; try again"
    assert result["statusCode"] == 409, result["body"]
    detail = json.loads(result["body"])["detail"]
    assert "the stock record of SKU-RED-MUG at DC-BERLIN holds fewer than 2 units" in detail, detail
    assert "PUT /inventory/SKU-RED-MUG/nodes/DC-BERLIN" in detail and "reject the request" in detail, detail
    # And it was decided on the first attempt: no re-read, no second transaction
    assert (table.reads, table.transactions) == (1, 1)


# -- throttled reads of the node partition -------------------------------------------------------------


@pytest.fixture
def stubbed() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("dynamodb", region_name="eu-central-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()  # every stubbed call was made, and nothing else


def throttle(stubber: Stubber, operation: str) -> None:
    stubber.add_client_error(operation, service_error_code="ProvisionedThroughputExceededException",
                             service_message="Rate of requests exceeds the allowed throughput", http_status_code=400)


@pytest.mark.timeout(30)
@pytest.mark.parametrize(("method", "path", "payload", "operation"), [
    ("GET", "/nodes", None, "query"),
    ("GET", "/nodes/DC-BERLIN", None, "get_item"),
    ("PUT", "/nodes/DC-BERLIN", BODY, "get_item"),  # the read before the conditional write
])
def test_a_throttled_node_read_answers_503_with_retry_after(
        monkeypatch: pytest.MonkeyPatch, stubbed: tuple[Any, Stubber], method: str, path: str,
        payload: dict[str, Any] | None, operation: str) -> None:
    # Given a table that throttles the read the request needs
    client, stubber = stubbed
    monkeypatch.setenv("TABLE_NAME", "t")
    throttle(stubber, operation)
    monkeypatch.setattr(route_endpoints, "node_service",
                        lambda: NodeService(store=NodeTable("t", dynamodb_client=client)))
    # When an agent makes it
    result = request(route_api, method, path, payload, "agent", "agent")
    # Then it is told to retry shortly (and nothing was written: the stubber saw no other call)
    assert result["statusCode"] == 503, result["body"]
    assert retry_after(result) == "1"
    problem = json.loads(result["body"])
    assert problem["type"] == "urn:oms:problem:unavailable"
    assert "Rate of requests" not in problem["detail"]  # no AWS error text in the answer


@pytest.mark.timeout(30)
def test_a_throttled_network_version_read_is_retried_by_the_workflow_not_a_failed_order(
        monkeypatch: pytest.MonkeyPatch, stubbed: tuple[Any, Stubber]) -> None:
    # Given a captured order, its stock read, and the network's version read throttled
    client, stubber = stubbed
    store = FakeOrderStore()
    order = Capture(store=store).capture(body(), WEBSHOP)
    throttle(stubber, "get_item")  # the first plan of a container reads the version, then nodes and stock
    monkeypatch.setattr(plan_handler, "plan_service", lambda: PlanService(orders=store, stock=CachedNodes(
        StockReader("t", dynamodb_client=client), NetworkReader("t", dynamodb_client=client))))
    # When the Plan task runs, Then it raises the error its ASL retries (Retry on TransientError)
    with pytest.raises(TransientError):
        plan_handler.lambda_handler({"order_id": order.order_id}, Context())


@pytest.mark.timeout(30)
def test_a_throttled_network_query_is_transient_too(stubbed: tuple[Any, Stubber]) -> None:
    client, stubber = stubbed
    throttle(stubber, "query")
    with pytest.raises(TransientError):
        NetworkReader("t", dynamodb_client=client).nodes()


@pytest.mark.timeout(30)
def test_a_throttled_stock_and_version_read_is_transient_after_its_unprocessed_rounds(
        stubbed: tuple[Any, Stubber], monkeypatch: pytest.MonkeyPatch) -> None:
    client, stubber = stubbed
    monkeypatch.setattr("functions.core.adapters.stock.time.sleep", lambda _: None)
    keys = {"t": {"Keys": [{"PK": {"S": "NODES"}, "SK": {"S": "VERSION"}}], "ConsistentRead": True}}
    for _ in range(4):  # DynamoDB keeps answering with every key unprocessed
        stubber.add_response("batch_get_item", {"Responses": {"t": []}, "UnprocessedKeys": keys})
    with pytest.raises(TransientError):
        StockReader("t", dynamodb_client=client).version_and_levels([], [])
    throttle(stubber, "batch_get_item")
    with pytest.raises(TransientError):
        StockReader("t", dynamodb_client=client).version_and_levels(["MUG"], ["DC-BERLIN"])
