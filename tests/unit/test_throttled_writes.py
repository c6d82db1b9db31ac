"""A throttled table never looks like a refusal: a cancel or a dispatch whose transaction is
throttled answers 503 with Retry-After (the client retries), not 409 (which says the order
changed and must be read again). Through the real API handlers, the table's client replaced by
one that answers the order's Query and throttles every TransactWriteItems."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from functions.capture import endpoints as capture_endpoints
from functions.capture.adapters.order_table import OrderTable, details_item, header_item
from functions.capture.cancellation import Cancellation
from functions.capture.handlers.api import lambda_handler as capture_api
from functions.core.adapters.dynamodb import to_item
from functions.core.adapters.order_reader import OrderTableReader
from functions.core.adapters.shipments import shipment_item
from functions.core.orders import OrderStatus, Shipment, ShipmentLine, ShipmentStatus
from functions.route import endpoints as route_endpoints
from functions.route.adapters.shipment_table import ShipmentTable
from functions.route.fulfilment import FulfilmentService
from functions.route.handlers.api import lambda_handler as route_api
from tests.unit.test_capture_logic import WEBSHOP, Capture, body
from tests.unit.test_http_errors import Context


class ThrottledTable:
    """Reads answer with the order's items; every transaction is cancelled by a throttle."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = [to_item(i) for i in items]
        self.transactions = 0

    def query(self, **_: Any) -> dict[str, Any]:
        return {"Items": self.items}

    def transact_write_items(self, TransactItems: list[Any]) -> None:
        self.transactions += 1
        raise ClientError({"Error": {"Code": "TransactionCanceledException", "Message": "throttled"},
                           "CancellationReasons": [{"Code": "ThrottlingError"}] + [{"Code": "None"}] * (
                               len(TransactItems) - 1)}, "TransactWriteItems")


def order_in(status: OrderStatus) -> tuple[Any, list[dict[str, Any]]]:
    from tests.unit.fakes import FakeOrderStore

    order = Capture(store=FakeOrderStore()).capture(body(), WEBSHOP)
    shipment = Shipment(shipment_id=f"shp_{order.order_id[4:]}-1", order_id=order.order_id, node_id="DC-BERLIN",
                        status=ShipmentStatus.REQUESTED, lines=(ShipmentLine("1", "SKU-RED-MUG", 2),),
                        requested_at=order.created_at)
    from dataclasses import replace

    order = replace(order, status=status)
    return order, [header_item(order), details_item(order), shipment_item(shipment, {"country": "DE"}, "standard")]


def request(handler: Any, method: str, path: str, body: Any, role: str, principal: str) -> dict[str, Any]:
    event = {"resource": path, "path": path, "httpMethod": method, "headers": {"Content-Type": "application/json"},
             "multiValueHeaders": {}, "queryStringParameters": None, "multiValueQueryStringParameters": None,
             "pathParameters": None, "body": json.dumps(body), "isBase64Encoded": False,
             "requestContext": {"requestId": "r", "stage": "v1", "httpMethod": method, "resourcePath": path,
                                "authorizer": {"role": role, "principal_id": principal}, "identity": {}}}
    result: dict[str, Any] = handler(event, Context())
    return result


@pytest.mark.timeout(30)
def test_a_throttled_cancel_answers_503_with_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an order in fulfilment, and a table that throttles every transaction
    monkeypatch.setenv("TABLE_NAME", "t")
    order, items = order_in(OrderStatus.IN_FULFILLMENT)
    table = ThrottledTable(items)
    monkeypatch.setattr(capture_endpoints, "cancellation",
                        lambda: Cancellation(store=OrderTable("t", dynamodb_client=table)))
    # When the channel cancels it
    result = request(capture_api, "POST", f"/orders/{order.order_id}/cancel", {"reason": "CUSTOMER"},
                     "channel", "webshop")
    # Then it is told to retry shortly, not that the order changed
    assert result["statusCode"] == 503, result["body"]
    headers = result.get("multiValueHeaders") or {}
    assert headers.get("Retry-After") == ["1"] or result.get("headers", {}).get("Retry-After") == "1"
    assert json.loads(result["body"])["type"] == "urn:oms:problem:unavailable"
    assert table.transactions == 1  # no blind re-reads of a throttled table


@pytest.mark.timeout(30)
def test_a_throttled_dispatch_answers_503_with_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an order with a shipment requested from DC-BERLIN, and a throttled table
    monkeypatch.setenv("TABLE_NAME", "t")
    order, items = order_in(OrderStatus.IN_FULFILLMENT)
    table = ThrottledTable(items)
    monkeypatch.setattr(route_endpoints, "fulfilment_service", lambda: FulfilmentService(
        orders=OrderTableReader("t", dynamodb_client=table), store=ShipmentTable("t", dynamodb_client=table)))
    # When the node confirms the dispatch
    shipment_id = f"shp_{order.order_id[4:]}-1"
    result = request(route_api, "POST", f"/shipments/{shipment_id}/dispatch",
                     {"carrier": "DHL", "tracking_number": "00340434161094042557"}, "node", "DC-BERLIN")
    # Then it is told to retry, and nothing was refused as a conflict
    assert result["statusCode"] == 503, result["body"]
    assert json.loads(result["body"])["type"] == "urn:oms:problem:unavailable"
    assert table.transactions == 1
