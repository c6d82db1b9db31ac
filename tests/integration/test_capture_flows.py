"""Capture's asynchronous paths on the deployed local stack: every handler idempotent under
redelivery, poison messages parked in the DLQ, events published once."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import boto3

from localcloud.server import LocalCloud
from tests.e2e.orders import new_order
from tests.integration.conftest import event, invoke


def executions(outputs: dict[str, str], order_id: str) -> list[dict[str, Any]]:
    found = boto3.client("stepfunctions").list_executions(stateMachineArn=outputs["OrderWorkflowArn"])["executions"]
    return [e for e in found if order_id in e["name"]]


def drain(sqs: Any, queue_url: str) -> None:
    """Empty a queue now (PurgeQueue is allowed once a minute per queue)."""
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        for m in messages:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])


def intake_url(outputs: dict[str, str], channel: str) -> str:
    return outputs[f"IntakeQueueUrl{channel.capitalize()}"]


def send_intake(outputs: dict[str, str], channel: str, body: str) -> None:
    """Put ``body`` on ``channel``'s own intake queue, as its feed does."""
    boto3.client("sqs").send_message(QueueUrl=intake_url(outputs, channel), MessageBody=body)


def feed_message(order: dict[str, Any], key: str | None = None) -> str:
    return json.dumps({"orders": [{"idempotency_key": key or f"k-{uuid.uuid4()}", "order": order}]})


def orders_of(outputs: dict[str, str], channel: str, channel_order_id: str) -> list[dict[str, Any]]:
    ddb = boto3.client("dynamodb")
    ref = ddb.get_item(TableName=outputs["TableName"],
                       Key={"PK": {"S": f"CHANNEL#{channel}#REF#{channel_order_id}"}, "SK": {"S": "REF"}})
    if "Item" not in ref:
        return []
    order_id = ref["Item"]["order_id"]["S"]
    item = ddb.get_item(TableName=outputs["TableName"], Key={"PK": {"S": f"ORDER#{order_id}"}, "SK": {"S": "ORDER"}})
    return [item["Item"]] if "Item" in item else []


def _fed_order_for_two_of_five(cloud: LocalCloud, outputs: dict[str, str]
                               ) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """A new SKU with 5 units at DC-BERLIN and an order for 2 of them sent through the feed,
    settled: (sku, the order body, its header item as stored)."""
    from functions.allocate.adapters.stock_table import StockTable

    item = f"SKU-{uuid.uuid4().hex[:8]}"
    StockTable(outputs["TableName"]).set_on_hand(item, "DC-BERLIN", 5, "2026-11-23T00:00:00.000Z")
    body = new_order(lines=[{"sku": item, "quantity": 2, "unit_price": "1.00"}],
                     payment={"method": "card", "authorization_id": "a", "amount": "100.00"})
    send_intake(outputs, "webshop", feed_message(body))
    cloud.settle()
    return item, body, orders_of(outputs, "webshop", body["channel_order_id"])[0]


def test_feed_order_is_captured_once_even_when_sent_twice(cloud: LocalCloud, outputs: dict[str, str]) -> None:
    # Given an order on the SQS feed, delivered twice (at-least-once delivery)
    body = new_order()
    message = feed_message(body, f"feed-{uuid.uuid4()}")
    send_intake(outputs, "marketplace", message)
    send_intake(outputs, "marketplace", message)
    cloud.settle()
    # Then one order exists, and its workflow started once
    found = orders_of(outputs, "marketplace", body["channel_order_id"])
    assert len(found) == 1
    order_id = found[0]["order_id"]["S"]
    assert len(executions(outputs, order_id)) == 1


def test_poison_feed_message_ends_in_the_dlq(cloud: LocalCloud, outputs: dict[str, str]) -> None:
    sqs = boto3.client("sqs")
    dlq_url = sqs.get_queue_url(QueueName="oms-local-intake-marketplace-dlq")["QueueUrl"]
    drain(sqs, dlq_url)
    # Given a message that can never become an order
    send_intake(outputs, "marketplace", feed_message({"lines": []}, "p-1"))
    cloud.settle(timeout=30)
    # Then it waits in the channel's DLQ at once (no retries), with its field errors, where the
    # DLQ alarm sees it
    messages = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10).get("Messages", [])
    assert len(messages) == 1
    letter = json.loads(messages[0]["Body"])
    assert letter["idempotency_key"] == "p-1" and letter["order"] == {"lines": []}
    assert {"field": "lines", "message": "needs at least one entry"} in letter["errors"]


def test_redelivered_stream_record_changes_nothing(cloud: LocalCloud, outputs: dict[str, str],
                                                  function_names: dict[str, str]) -> None:
    # Given an order captured through the feed, allocated and requested by its workflow
    item, body, header = _fed_order_for_two_of_five(cloud, outputs)
    order_id = header["order_id"]["S"]
    assert header["status"]["S"] == "IN_FULFILLMENT" and len(executions(outputs, order_id)) == 1
    # When the stream delivers the same INSERT record again (a retry, as Lambda does)
    record = event("dynamodb_stream_insert")
    record["Records"][0]["dynamodb"]["Keys"]["PK"]["S"] = f"ORDER#{order_id}"
    record["Records"][0]["dynamodb"]["NewImage"] = {**header, "status": {"S": "CAPTURED"}}
    error, result = invoke(function_names["capture-stream"], record)
    cloud.settle()
    # Then the batch reports no failure; the second execution (Express runs at least once)
    # finds the order taken and changes nothing: stock reserved once, one shipment
    assert error is None and result == {"batchItemFailures": []}
    assert len(executions(outputs, order_id)) == 2
    assert orders_of(outputs, "webshop", body["channel_order_id"])[0]["status"]["S"] == "IN_FULFILLMENT"
    assert _stock(outputs, item, "DC-BERLIN")["reserved"] == 2
    shipments = boto3.client("dynamodb").query(
        TableName=outputs["TableName"], KeyConditionExpression="PK = :p AND begins_with(SK, :s)",
        ExpressionAttributeValues={":p": {"S": f"ORDER#{order_id}"}, ":s": {"S": "SHIPMENT#"}})["Items"]
    assert len(shipments) == 1


def test_order_captured_is_published_once_on_the_bus(cloud: LocalCloud, outputs: dict[str, str]) -> None:
    # Given a subscriber of OrderCaptured (as finance or a marketplace connector would be)
    sqs, events = boto3.client("sqs"), boto3.client("events")
    queue_url = sqs.create_queue(QueueName=f"subscriber-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule = f"test-order-captured-{uuid.uuid4().hex[:6]}"
    events.put_rule(Name=rule, EventBusName=outputs["EventBusName"],
                    EventPattern=json.dumps({"source": ["oms.capture"], "detail-type": ["OrderCaptured"]}))
    events.put_targets(Rule=rule, EventBusName=outputs["EventBusName"], Targets=[{"Id": "q", "Arn": queue_arn}])
    # When an order is captured
    body = new_order()
    send_intake(outputs, "webshop", feed_message(body))
    cloud.settle()
    time.sleep(0.2)
    # Then exactly one OrderCaptured event for it arrives, in the documented envelope
    got = [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
           .get("Messages", [])]
    mine = [e for e in got if e["detail"]["data"].get("channel_order_id") == body["channel_order_id"]]
    assert len(mine) == 1
    detail = mine[0]["detail"]
    assert detail["data"]["total"] == "35.58" and detail["metadata"]["event_id"].startswith("evt_")


def test_feed_resending_a_known_order_with_a_new_key_is_dead_lettered_once(cloud: LocalCloud, outputs: dict[str, str],
                                                                           function_names: dict[str, str]) -> None:
    sqs = boto3.client("sqs")
    dlq_url = sqs.get_queue_url(QueueName="oms-local-intake-marketplace-dlq")["QueueUrl"]
    drain(sqs, dlq_url)
    # Given an order the marketplace already sent
    body = new_order()
    send_intake(outputs, "marketplace", feed_message(body, f"a-{uuid.uuid4()}"))
    cloud.settle()
    queue_arn = sqs.get_queue_attributes(QueueUrl=intake_url(outputs, "marketplace"),
                                         AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    # When its connector re-sends it under a fresh key (the record as the queue delivers it)
    again = feed_message(body, f"b-{uuid.uuid4()}")
    record = {"messageId": "m-2", "receiptHandle": "r", "body": again,
              "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "0", "SenderId": "x",
                             "ApproximateFirstReceiveTimestamp": "0"},
              "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs", "eventSourceARN": queue_arn,
              "awsRegion": "eu-central-1"}
    error, result = invoke(function_names["capture-intake"], {"Records": [record]})
    # Then the message is done (not retried), there is still one order, and the second one waits
    # in the DLQ naming the channel_order_id it reused
    assert error is None and result == {"batchItemFailures": []}
    assert len(orders_of(outputs, "marketplace", body["channel_order_id"])) == 1
    (letter,) = [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10)
                 .get("Messages", [])]
    assert [e["field"] for e in letter["errors"]] == ["channel_order_id"]


def test_seeding_twice_leaves_one_of_everything(cloud: LocalCloud, outputs: dict[str, str]) -> None:
    from localcloud.seed import seed

    apigw = boto3.client("apigateway")
    network = {"TableName": outputs["TableName"], "Key": {"PK": {"S": "NODES"}, "SK": {"S": "VERSION"}},
               "ConsistentRead": True}
    before = len(apigw.get_api_keys()["items"])
    nodes_before = boto3.client("dynamodb").get_item(**network)["Item"]["version"]
    assert cloud.deployment is not None
    seed(cloud.deployment)
    assert len(apigw.get_api_keys()["items"]) == before == 6
    # the seed's nodes went through node management, where the same node again writes nothing
    assert boto3.client("dynamodb").get_item(**network)["Item"]["version"] == nodes_before == {"N": "2"}


def test_stream_consumer_wakes_once_per_order_not_on_header_updates(cloud: LocalCloud, outputs: dict[str, str],
                                                                     function_names: dict[str, str]) -> None:
    from localcloud import INVOCATIONS

    stream = function_names["capture-stream"]
    cloud.settle()
    before = len(INVOCATIONS.snapshot(stream))
    # Given three orders, each updated three more times on its header (claim, confirm, accept)
    for _ in range(3):
        send_intake(outputs, "webshop", feed_message(new_order()))
    cloud.settle()
    # Then the consumer ran for the three inserts only (batches may group them: at most 3 runs)
    runs = len(INVOCATIONS.snapshot(stream)) - before
    assert 1 <= runs <= 3


def _stock(outputs: dict[str, str], item: str, node: str) -> dict[str, Any]:
    got = boto3.client("dynamodb").get_item(TableName=outputs["TableName"],
                                            Key={"PK": {"S": f"SKU#{item}"}, "SK": {"S": f"NODE#{node}"}})["Item"]
    return {k: int(got[k]["N"]) for k in ("on_hand", "reserved", "available")}


def test_reserve_and_backorder_run_twice_change_nothing_twice(cloud: LocalCloud, outputs: dict[str, str],
                                                               function_names: dict[str, str]) -> None:
    item, _, header = _fed_order_for_two_of_five(cloud, outputs)
    order_id = header["order_id"]["S"]
    assert header["status"]["S"] == "IN_FULFILLMENT" and _stock(outputs, item, "DC-BERLIN")["reserved"] == 2
    winner = header["accepted_by"]["S"]
    allocations = [{"line_id": "1", "sku": item, "node_id": "DC-BERLIN", "quantity": 2}]
    # When the workflow's Reserve runs again (a retry), and a duplicate execution tries too
    where = {"ship_to": {"name": "Ada Lovelace", "city": "Berlin", "country": "DE"}, "shipping_method": "standard"}
    _, again = invoke(function_names["allocate-reserve"],
                      {"order_id": order_id, "execution_id": winner, "allocations": allocations, **where})
    _, other = invoke(function_names["allocate-reserve"],
                      {"order_id": order_id, "execution_id": "duplicate", "allocations": allocations, **where})
    _, late_backorder = invoke(function_names["allocate-backorder"], {"order_id": order_id, "execution_id": winner})
    # Then the retry answers reserved (with the same shipment), the others change nothing, and
    # stock was taken once
    assert again["reserved"] is True and other["reserved"] is False and late_backorder["backordered"] is False
    assert len(again["shipments"]) == 1
    assert _stock(outputs, item, "DC-BERLIN") == {"on_hand": 5, "reserved": 2, "available": 3}
    from functions.capture.adapters.order_table import OrderTable

    events = [e.event for e in OrderTable(outputs["TableName"]).get(order_id).timeline]  # type: ignore[union-attr]
    assert events.count("OrderAllocated") == 1 and events.count("ShipmentRequested") == 1
    shipments = boto3.client("dynamodb").query(
        TableName=outputs["TableName"], KeyConditionExpression="PK = :p AND begins_with(SK, :s)",
        ExpressionAttributeValues={":p": {"S": f"ORDER#{order_id}"}, ":s": {"S": "SHIPMENT#"}})["Items"]
    assert len(shipments) == 1


def test_reserve_refuses_when_stock_moved_and_takes_nothing(cloud: LocalCloud, outputs: dict[str, str],
                                                             function_names: dict[str, str]) -> None:
    from functions.allocate.adapters.stock_table import StockTable

    item, other = f"SKU-{uuid.uuid4().hex[:8]}", f"SKU-{uuid.uuid4().hex[:8]}"
    stock = StockTable(outputs["TableName"])
    stock.set_on_hand(item, "DC-BERLIN", 1, "2026-11-23T00:00:00.000Z")
    stock.set_on_hand(other, "DC-BERLIN", 5, "2026-11-23T00:00:00.000Z")
    # Given an order for 3 units where only 1 exists: it waits BACKORDERED
    body = new_order(lines=[{"sku": other, "quantity": 1, "unit_price": "1.00"},
                            {"sku": item, "quantity": 3, "unit_price": "1.00"}],
                     payment={"method": "card", "authorization_id": "a", "amount": "100.00"})
    send_intake(outputs, "webshop", feed_message(body))
    cloud.settle()
    header = orders_of(outputs, "webshop", body["channel_order_id"])[0]
    assert header["status"]["S"] == "BACKORDERED"
    # (as if its execution had planned before another order took the stock: back to CAPTURED)
    boto3.client("dynamodb").update_item(
        TableName=outputs["TableName"], Key={"PK": header["PK"], "SK": header["SK"]},
        UpdateExpression="SET #s = :c", ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":c": {"S": "CAPTURED"}})
    # When Reserve gets a stale plan that counts on 3 units
    error, result = invoke(function_names["allocate-reserve"], {
        "order_id": header["order_id"]["S"], "execution_id": header["accepted_by"]["S"],
        "allocations": [{"line_id": "1", "sku": other, "node_id": "DC-BERLIN", "quantity": 1},
                        {"line_id": "2", "sku": item, "node_id": "DC-BERLIN", "quantity": 3}],
        "ship_to": {"name": "Ada Lovelace", "city": "Berlin", "country": "DE"}, "shipping_method": "standard"})
    # Then it refuses with StockMoved (the workflow plans again) and takes nothing at all
    assert error == "Unhandled" and result["errorType"] == "StockMoved"
    assert _stock(outputs, item, "DC-BERLIN")["reserved"] == 0
    assert _stock(outputs, other, "DC-BERLIN")["reserved"] == 0
