"""AWS requests of one happy-path order (capture → allocate → request → dispatch → notify →
invoice → capture payment → COMPLETED), counted on the local stack by a botocore event hook
(``/_local/requests``), without the client's own polling (``/_local/settle`` waits instead)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.e2e.conftest import KEYS
from tests.e2e.orders import key
from tests.e2e.test_allocation import order_for
from tests.e2e.test_capture_api import WEBSHOP, post_order
from tests.e2e.test_fulfilment import DC, dispatch, requests_of
from tests.e2e.test_inventory_api import put_stock, sku


def idle(http: httpx.Client) -> None:
    r = http.post("/_local/settle", params={"timeout": 30})
    assert r.status_code == 200, r.text


def test_requests_of_one_happy_path_order(http: httpx.Client) -> None:
    item = sku()
    put_stock(http, item, "DC-BERLIN", 5, KEYS["dc"])
    idle(http)
    http.post("/_local/requests/reset")
    order = post_order(http, order_for([{"sku": item, "quantity": 1, "unit_price": "10.00"}]), key()).json()
    idle(http)
    (request,) = requests_of(http, DC, order["order_id"])
    assert dispatch(http, DC, request["shipment_id"], "TRK-1").status_code == 200
    idle(http)
    used: dict[str, Any] = http.get("/_local/requests").json()
    assert http.get(f"/orders/{order['order_id']}", headers=WEBSHOP).json()["status"] == "COMPLETED"
    ops = used["aws_calls"]["by_operation"]
    # Each of these is once per order, whatever else changes:
    assert ops["states.StartExecution"] == 2  # order_fulfillment, shipment_invoicing
    # OrderCaptured; InvoiceIssued; PaymentCaptured + OrderCompleted (one transaction: two records
    # of one stream batch, one PutEvents) — InvoiceIssued joins them when its record is still
    # unread when the settlement lands
    assert ops["events.PutEvents"] in (2, 3)
    assert ops["email.SendEmail"] == 2 and ops["sns.Publish"] == 1  # confirmation; dispatch email + SMS
    assert used["aws_calls"]["by_caller"]["oms-local-capture-api"]["dynamodb.TransactWriteItems"] == 1
    assert used["api_requests"]["total"] == 3  # POST /orders, GET /shipments, POST dispatch
    # Step Functions invokes exactly the task functions: 3 in order_fulfillment (Plan, Reserve,
    # NotifyConfirmed), 1 in shipment_invoicing (InvoiceShipment)
    assert ops["lambda.Invoke"] == 4
    # its invoice is rendered once, off the capture path: queued by the invoice stream, then the
    # order read, the mark looked for, the PDF and the XML put, the mark put (bench: per document)
    assert used["aws_calls"]["by_caller"]["oms-local-invoice-stream"]["sqs.SendMessageBatch"] == 1
    assert used["aws_calls"]["by_caller"]["oms-local-invoice-render"] == {
        "dynamodb.Query": 1, "dynamodb.GetItem": 1, "s3.PutObject": 2, "dynamodb.PutItem": 1}
    width = max(len(op) for op in ops)
    print("\nAWS requests of one happy-path order, by service and operation:")
    for op, n in sorted(ops.items()):
        print(f"  {op:<{width}} {n:>3}")
    print(f"  {'total AWS API calls':<{width}} {used['aws_calls']['total']:>3}")
    print("DynamoDB WRU (index WRU included) by caller and item kind:")
    for caller, kinds in sorted(used["dynamodb_capacity"]["write_units_by_caller"].items()):
        print(f"  {caller:<34} {kinds}")
    print(f"  API Gateway requests {used['api_requests']['total']}, "
          f"Lambda invocations {used['lambda_invocations']['total']}")
