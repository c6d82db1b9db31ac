"""A throttled table never looks like a refusal: a cancel or a dispatch whose transaction is
throttled answers 503 with Retry-After (the client retries), not 409 (which says the order
changed and must be read again); a conflict with a concurrent transaction is a change, read
again and decided again. Through the real API handlers, the table's client replaced by one
that answers the order's Query and cancels TransactWriteItems as DynamoDB does."""

from __future__ import annotations

import json
from dataclasses import replace
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
from tests.unit.fakes import FakeOrderStore
from tests.unit.test_capture_logic import WEBSHOP, Capture, body
from tests.unit.test_http_errors import Context


class CancellingTable:
    """Reads answer with the order's items; the first ``times`` transactions are cancelled with
    ``reason`` on their first action (as DynamoDB reports it), later ones go through."""

    def __init__(self, items: list[dict[str, Any]], reason: str = "ThrottlingError", times: int = 1_000) -> None:
        self.items = [to_item(i) for i in items]
        self.reason, self.times = reason, times
        self.transactions = 0

    def query(self, **_: Any) -> dict[str, Any]:
        return {"Items": self.items}

    def transact_write_items(self, TransactItems: list[Any]) -> None:
        self.transactions += 1
        if self.transactions <= self.times:
            raise ClientError({"Error": {"Code": "TransactionCanceledException", "Message": self.reason},
                               "CancellationReasons": [{"Code": self.reason}] + [{"Code": "None"}] * (
                                   len(TransactItems) - 1)}, "TransactWriteItems")


def order_in(status: OrderStatus) -> tuple[Any, list[dict[str, Any]]]:
    order = Capture(store=FakeOrderStore()).capture(body(), WEBSHOP)
    shipment = Shipment(shipment_id=f"shp_{order.order_id[4:]}-1", order_id=order.order_id, node_id="DC-BERLIN",
                        status=ShipmentStatus.REQUESTED, lines=(ShipmentLine("1", "SKU-RED-MUG", 2),),
                        requested_at=order.created_at)
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
    table = CancellingTable(items)
    monkeypatch.setattr(capture_endpoints, "cancellation",
                        lambda: Cancellation(store=OrderTable("t", dynamodb_client=table)))
    # When the channel cancels it
    result = request(capture_api, "POST", f"/orders/{order.order_id}/cancel", {"reason": "CUSTOMER"},
                     "channel", "webshop")
    # Then it is told to retry shortly, not that the order changed
    assert result["statusCode"] == 503, result["body"]
    assert retry_after(result) == "1"
    assert json.loads(result["body"])["type"] == "urn:oms:problem:unavailable"
    # and nothing internal is said: no table, order id or AWS error code
    detail = json.loads(result["body"])["detail"]
    assert order.order_id not in detail and "Throttl" not in detail and "Provisioned" not in detail
    assert table.transactions == 1  # no blind re-reads of a throttled table


def retry_after(result: dict[str, Any]) -> str | None:
    multi = (result.get("multiValueHeaders") or {}).get("Retry-After")
    return multi[0] if multi else (result.get("headers") or {}).get("Retry-After")


@pytest.mark.timeout(30)
def test_a_cancel_that_meets_a_concurrent_transaction_reads_again_and_cancels(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an order whose first cancel transaction collides with a concurrent one (Reserve, a dispatch)
    monkeypatch.setenv("TABLE_NAME", "t")
    order, items = order_in(OrderStatus.IN_FULFILLMENT)
    table = CancellingTable(items, reason="TransactionConflict", times=1)
    monkeypatch.setattr(capture_endpoints, "cancellation",
                        lambda: Cancellation(store=OrderTable("t", dynamodb_client=table)))
    # When the channel cancels it
    result = request(capture_api, "POST", f"/orders/{order.order_id}/cancel", {"reason": "CUSTOMER"},
                     "channel", "webshop")
    # Then the cancel is decided again on a fresh read and goes through: no 409, no 503
    assert result["statusCode"] == 200, result["body"]
    assert json.loads(result["body"])["status"] == "CANCELLED"
    assert table.transactions == 2


@pytest.mark.timeout(30)
def test_a_throttled_dispatch_answers_503_with_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an order with a shipment requested from DC-BERLIN, and a throttled table
    monkeypatch.setenv("TABLE_NAME", "t")
    order, items = order_in(OrderStatus.IN_FULFILLMENT)
    table = CancellingTable(items)
    monkeypatch.setattr(route_endpoints, "fulfilment_service", lambda: FulfilmentService(
        orders=OrderTableReader("t", dynamodb_client=table), store=ShipmentTable("t", dynamodb_client=table)))
    # When the node confirms the dispatch
    shipment_id = f"shp_{order.order_id[4:]}-1"
    result = request(route_api, "POST", f"/shipments/{shipment_id}/dispatch",
                     {"carrier": "DHL", "tracking_number": "00340434161094042557"}, "node", "DC-BERLIN")
    # Then it is told to retry, and nothing was refused as a conflict
    assert result["statusCode"] == 503, result["body"]
    assert retry_after(result) == "1"
    assert json.loads(result["body"])["type"] == "urn:oms:problem:unavailable"
    assert table.transactions == 1


class RefusingTable:
    """Cancels the capture transaction with these per-action reasons, as DynamoDB reports them."""

    def __init__(self, reasons: list[dict[str, Any]]) -> None:
        self.reasons = reasons

    def transact_write_items(self, TransactItems: list[Any]) -> None:
        reasons = self.reasons + [{"Code": "None"}] * (len(TransactItems) - len(self.reasons))
        raise ClientError({"Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
                           "CancellationReasons": reasons}, "TransactWriteItems")


@pytest.mark.timeout(30)
@pytest.mark.parametrize(("reasons", "answer"), [
    # the key was used before, for the same body: the original order is answered as a replay
    ([{"Code": "ConditionalCheckFailed", "Item": to_item({"order_id": "ord_first", "request_hash": "h"})}],
     "replay of ord_first"),
    # for another body: a conflict
    ([{"Code": "ConditionalCheckFailed", "Item": to_item({"order_id": "ord_first", "request_hash": "other"})}],
     "another body"),
    # a concurrent request with the same key: 409 "retry shortly"
    ([{"Code": "None"}, {"Code": "TransactionConflict"}], "in progress"),
    # a throttled table: retryable (503 with Retry-After at the API)
    ([{"Code": "None"}, {"Code": "ThrottlingError"}], "transient"),
])
def test_a_refused_capture_transaction_is_answered_by_what_refused_it(reasons: list[dict[str, Any]],
                                                                     answer: str) -> None:
    from functions.capture.ports import AlreadyCaptured, CaptureInProgress, IdempotencyClaim
    from functions.core.errors import TransientError

    order = Capture(store=FakeOrderStore()).capture(body(), WEBSHOP)
    claim = IdempotencyClaim(principal="webshop", key="k-1", request_hash="h", expires_at=2_000_000_000)
    table = OrderTable("t", dynamodb_client=RefusingTable(reasons))
    with pytest.raises((AlreadyCaptured, CaptureInProgress, TransientError)) as raised:
        table.create(order, order.timeline[0], idempotency=claim)
    got = raised.value
    if answer.startswith("replay"):
        assert isinstance(got, AlreadyCaptured) and got.same_request and got.order_id == "ord_first"
    elif answer == "another body":
        assert isinstance(got, AlreadyCaptured) and not got.same_request
    elif answer == "in progress":
        assert isinstance(got, CaptureInProgress)
    else:
        assert isinstance(got, TransientError)
