"""AWS requests and cost per order, from the local stack's meter (``/_local/requests``).

The happy path (one shipment, card payment) is run for ``orders`` orders; the meter counts what
the project's functions, authorizer and workflow service integrations ask of AWS (botocore
hook), Lambda invocations and their duration, API requests, estimated DynamoDB units and Step
Functions transitions and duration. Each figure is divided by the number of orders, then priced
with ``bench/prices.json``. Email and SMS fees are left out of the figure; X-Ray and CloudWatch
Logs are estimated and shown beside it.

What AWS also bills on the project's behalf: SQS polling and deletes by event source mappings
(none on this path: orders arrive over HTTP; each feed channel's intake queue has a mapping
that polls only when it has messages — long polling of an empty queue is billed, about 3
requests per minute per mapping, a fixed cost per channel, not per order) and EventBridge
deliveries (to AWS services such as Firehose: not billed per delivery). DynamoDB stream reads by
Lambda are free.

The finance archive (infra/constructs/archive.py): the bus's rule hands each finance event to
Firehose — a delivery by EventBridge, not a request of the project's code, so the meter does not
count it and it is not among the requests per order (the PutEvents that published the event is).
What it costs is Firehose's ingestion, billed per GB with each record rounded up to 5 KB: the
records are read back from the local finance bucket (``archive_of``) and priced per order, inside
the total. Firehose's S3 PUTs come per buffer flush (at most one every 300 s while events flow),
a fixed cost a month whatever the volume below ~5 MiB per 300 s: shown beside, like the
reconciler's, shared over ``ORDERS_PER_MONTH``. Glue (one table, no crawler) and Athena (per
query, by finance) are not per order.

The warehouse works as a node does: it fetches its open requests on a timer, a page of up to
100 at a time (``GET /shipments``), not once per order — here one page every
``ORDERS_PER_POLL`` orders — and confirms each dispatch (``POST /shipments/{id}/dispatch``,
counted per order).
"""

from __future__ import annotations

import json
import math
import uuid
from pathlib import Path
from typing import Any

from localcloud.client import KEYS, Api, ok
from tests import samples

PRICES = json.loads((Path(__file__).with_name("prices.json")).read_text())
#: Bytes CloudWatch Logs ingests per invocation, roughly: START/END/REPORT lines, the
#: Powertools cold-start/metric EMF line and one or two INFO lines.
LOG_BYTES_PER_INVOCATION = 900
#: Firehose's buffer interval (infra/constructs/archive.py): at most one S3 object per interval.
ARCHIVE_FLUSHES_PER_MONTH = 30 * 24 * 3600 // 300
#: Orders captured between two polls of the warehouse for its open requests.
ORDERS_PER_POLL = 10
#: The reconciler's deployed rate (infra/config.py, `reconcile_rate`: every 5 minutes) and the
#: monthly volume its fixed cost is shared over in the report.
RECONCILER_RUNS_PER_MONTH = 30 * 24 * 60 // 5
ORDERS_PER_MONTH = 100_000


def _order(sku: str) -> dict[str, Any]:
    """One order line of 10.00 EUR net to Berlin (17.73 with shipping and VAT), a short name and
    address: the item sizes, and so the DynamoDB units, of the figures measured so far."""
    return samples.order_body(
        sku=sku, quantity=1, unit_price="10.00", channel_order_id=f"BENCH-{uuid.uuid4().hex[:12]}",
        customer={"customer_id": "C-BENCH", "email": "bench@example.com", "phone": "+4915100000000",
                  "locale": "en-GB"},
        shipping_address={**samples.ADDRESS, "name": "Bench", "line1": "Street 1"},
        payment=samples.card("17.73", "auth_bench"))


def measure(api_url: str, *, orders: int = 20, orders_per_poll: int = ORDERS_PER_POLL) -> dict[str, Any]:
    """Run ``orders`` happy-path orders one after another and return the meter per order (the
    warehouse fetching its open requests once every ``orders_per_poll`` orders)."""
    dc = KEYS["dc"]
    with Api(api_url, timeout=60) as api:
        sku = f"BENCH-{uuid.uuid4().hex[:8]}"
        api.put_stock(sku, "DC-BERLIN", orders * 2)
        api.settle(60)
        api.reset_meter()
        ids: list[str] = []
        for n in range(orders):
            ids.append(api.place(_order(sku), KEYS["webshop"], uuid.uuid4().hex)["order_id"])
            api.settle(60)
            if (n + 1) % orders_per_poll and n + 1 < orders:
                continue
            requests = api.shipments(dc, status="REQUESTED", limit=100)["shipments"]  # one page, as a node polls
            for shipment in [s for s in requests if s["order_id"] in ids]:
                ok(api.dispatch(shipment["shipment_id"], dc, f"TRK{uuid.uuid4().hex[:10]}"), "dispatch")
                api.settle(60)
        meter = api.meter()
        statuses = [api.order(i)["status"] for i in ids]
        archive = archive_of(api.info(), ids)
    completed = statuses.count("COMPLETED")
    rest, rendering, documents = split_documents(meter)
    return {"orders": orders, "completed": completed, "meter": meter, **per_order(rest, orders),
            "archive": archive_per_order(archive, orders), "documents": per_document(rendering, documents)}


def archive_of(info: dict[str, Any], order_ids: list[str]) -> list[tuple[str, int]]:
    """(detail-type, bytes as EventBridge put it into Firehose) of each record the local finance
    bucket archived for ``order_ids`` (one JSON a line, the appended newline not counted)."""
    import boto3

    s3 = boto3.client("s3", endpoint_url=info["aws_endpoint_url"], region_name=info["region"],
                      aws_access_key_id="local", aws_secret_access_key="local")  # noqa: S106 - moto's dummy keys
    wanted, found = set(order_ids), []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=info["finance_bucket"], Prefix="events/"):
        for obj in page.get("Contents", []):
            for line in s3.get_object(Bucket=info["finance_bucket"], Key=obj["Key"])["Body"].read().splitlines():
                record = json.loads(line)
                if record["detail"]["data"].get("order_id") in wanted:
                    found.append((str(record["detail-type"]), len(line)))
    return found


def archive_per_order(records: list[tuple[str, int]], orders: int, prices: dict[str, Any] = PRICES
                      ) -> dict[str, Any]:
    """Records and Firehose-billed bytes per order (each record rounded up to 5 KB), and the
    archive's fixed monthly S3 PUTs with their share per 1,000 orders at ``ORDERS_PER_MONTH``."""
    rounding = prices["firehose_record_rounding_bytes"]
    billed = sum(math.ceil(size / rounding) * rounding for _, size in records)
    by_type: dict[str, float] = {}
    for name, _ in records:
        by_type[name] = by_type.get(name, 0) + 1 / orders
    monthly_puts = ARCHIVE_FLUSHES_PER_MONTH * prices["s3_put_request"]
    return {"records_per_order": len(records) / orders, "records_by_type_per_order": dict(sorted(by_type.items())),
            "bytes_per_record": round(sum(s for _, s in records) / max(len(records), 1), 1),
            "billed_bytes_per_order": billed / orders,
            "s3_puts_fixed_per_month_usd": round(monthly_puts, 6), "flushes_per_month": ARCHIVE_FLUSHES_PER_MONTH,
            "s3_puts_share_per_1000_orders_usd": round(monthly_puts / ORDERS_PER_MONTH * 1000, 6)}


def per_document(rendering: dict[str, Any], documents: int) -> dict[str, Any]:
    """What rendering one invoice or credit note costs (its PDF and XML, stored, marked)."""
    figures = per_order(rendering, max(documents, 1))
    money = cost_per_1000(figures)
    return {"documents": documents, "aws_requests_per_document": round(figures["aws_requests_per_order"], 2),
            "aws_requests_by_operation": figures["aws_requests_by_operation"],
            "lambda_billed_ms_per_document": round(figures["lambda_billed_ms_per_order"], 1),
            "cost_per_1000_documents_usd": money["cost_per_1000_orders_usd"], "cost_items": money["items"]}


#: Rendering the finance documents (functions/invoice: the invoice stream queues each new invoice
#: or credit note, the render function writes its PDF and XML): off the capture path, reported per
#: document beside the order's figures (issue 14), not inside them.
RENDER_FUNCTION = "oms-local-invoice-render"
QUEUEING = ("oms-local-invoice-stream", "sqs.SendMessageBatch")
#: What Lambda's SQS poller asks of SQS per document (billed to the account, made by no function
#: of ours, so not metered): a ReceiveMessage that finds it and the DeleteMessageBatch after the
#: batch, at the low rates of a bench (a batch of one); fewer per document under load.
POLLER_SQS_REQUESTS_PER_DOCUMENT = 2


def split_documents(meter: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], int]:
    """``meter`` without the rendering of documents, the rendering alone, and how many documents
    were rendered (the marks the render function put)."""
    import copy

    rest, docs = copy.deepcopy(meter), copy.deepcopy(meter)
    by_caller = meter["aws_calls"].get("by_caller", {})
    rendering = dict(by_caller.get(RENDER_FUNCTION, {}))
    caller, operation = QUEUEING
    queued = by_caller.get(caller, {}).get(operation, 0)
    if queued:
        rendering[operation] = rendering.get(operation, 0) + queued
    documents = int(by_caller.get(RENDER_FUNCTION, {}).get("dynamodb.PutItem", 0))
    poller = POLLER_SQS_REQUESTS_PER_DOCUMENT * documents
    for share, keep in ((rest, False), (docs, True)):
        calls = share["aws_calls"]
        by_operation = {op: (n if not keep else 0) for op, n in calls["by_operation"].items()}
        for op, n in rendering.items():
            by_operation[op] = by_operation.get(op, 0) + (n if keep else -n)
        if keep:
            by_operation["sqs.ReceiveMessage"] = poller // 2
            by_operation["sqs.DeleteMessageBatch"] = poller - poller // 2
        by_operation = {op: n for op, n in by_operation.items() if n}
        calls["by_operation"] = by_operation
        by_service: dict[str, int] = {}
        for op, n in by_operation.items():
            by_service[op.split(".")[0]] = by_service.get(op.split(".")[0], 0) + n
        calls["by_service"], calls["total"] = by_service, sum(by_service.values())
        invocations = share["lambda_invocations"]
        mine = {f: n for f, n in invocations["by_function"].items() if (f == RENDER_FUNCTION) == keep}
        billed = {f: ms for f, ms in invocations["billed_ms_by_function"].items() if (f == RENDER_FUNCTION) == keep}
        invocations.update(by_function=mine, total=sum(mine.values()), billed_ms_by_function=billed,
                           billed_ms_total=sum(billed.values()))
        capacity = share["dynamodb_capacity"]
        writes = sum(meter["dynamodb_capacity"].get("write_units_by_caller", {}).get(RENDER_FUNCTION, {}).values())
        reads = meter["dynamodb_capacity"].get("read_units_by_caller", {}).get(RENDER_FUNCTION, 0)
        if keep:
            share["api_requests"] = {"total": 0, "by_route": {}}
            share["workflows"] = {}
            for k in [k for k, v in capacity.items() if not isinstance(v, dict)]:
                capacity[k] = 0
            capacity.update(write_units=writes, read_units=reads)
        else:
            capacity["write_units"] = capacity.get("write_units", 0) - writes
            capacity["read_units"] = capacity.get("read_units", 0) - reads
    return rest, docs, documents


def per_order(meter: dict[str, Any], orders: int) -> dict[str, Any]:
    calls = meter["aws_calls"]
    workflows = meter["workflows"]
    capacity = meter["dynamodb_capacity"]
    return {
        "aws_requests_per_order": calls["total"] / orders,
        "aws_requests_by_service": {k: v / orders for k, v in sorted(calls["by_service"].items())},
        "aws_requests_by_operation": {k: v / orders for k, v in sorted(calls["by_operation"].items())},
        "lambda_invocations_per_order": meter["lambda_invocations"]["total"] / orders,
        "lambda_billed_ms_per_order": meter["lambda_invocations"]["billed_ms_total"] / orders,
        "api_requests_per_order": meter["api_requests"]["total"] / orders,
        "dynamodb_per_order": {k: v / orders for k, v in capacity.items() if not isinstance(v, dict)},
        "dynamodb_write_units_per_order_by_caller": {
            caller: {kind: units / orders for kind, units in kinds.items()}
            for caller, kinds in sorted(capacity.get("write_units_by_caller", {}).items())},
        "step_functions_per_order": {
            name: {"executions": w["executions"] / orders, "state_transitions": w["state_transitions"] / orders,
                   "duration_ms": w["duration_ms"] / orders} for name, w in sorted(workflows.items())},
    }


def cost_per_1000(figures: dict[str, Any], prices: dict[str, Any] = PRICES) -> dict[str, Any]:
    """USD per 1,000 orders by item, for the design as built (Express) and with Standard."""
    n = 1000
    ops = figures["aws_requests_by_operation"]
    ddb = figures["dynamodb_per_order"]
    sfn = figures["step_functions_per_order"]
    express = sum(w["executions"] * prices["sfn_express_request"]
                  + w["executions"] * math.ceil(w["duration_ms"] / max(w["executions"], 1e-9) / 100) * 0.1
                  * prices["sfn_express_memory_mb"] / 1024 * prices["sfn_express_gb_second"]
                  for w in sfn.values()) * n
    standard = sum(w["state_transitions"] * prices["sfn_standard_transition"] for w in sfn.values()) * n
    items = {
        "lambda_requests": figures["lambda_invocations_per_order"] * prices["lambda_request"] * n,
        "lambda_duration": figures["lambda_billed_ms_per_order"] / 1000 * prices["lambda_memory_mb"] / 1024
        * prices["lambda_gb_second_arm"] * n,
        "api_gateway": figures["api_requests_per_order"] * prices["api_gateway_rest_request"] * n,
        "dynamodb_writes": (ddb.get("write_units", 0) + ddb.get("index_write_units", 0))
        * prices["dynamodb_write_unit"] * n,
        "dynamodb_reads": ddb.get("read_units", 0) * prices["dynamodb_read_unit"] * n,
        "step_functions": express,
        "eventbridge": ops.get("events.PutEvents", 0) * prices["eventbridge_event"] * n,
        "sqs": sum(v for k, v in ops.items() if k.startswith("sqs.")) * prices["sqs_request"] * n,
        "s3": (ops.get("s3.PutObject", 0) * prices["s3_put_request"]
               + ops.get("s3.GetObject", 0) * prices["s3_get_request"]) * n,
        "sns_publish": 0.0,  # SMS only: its fee is excluded with the messages themselves
        # the finance archive's Firehose ingestion (its S3 PUTs are fixed a month: beside, see archive_per_order)
        "firehose_archive": (figures.get("archive") or {}).get("billed_bytes_per_order", 0) / 2**30
        * prices["firehose_ingestion_gb"] * n,
    }
    total = sum(items.values())
    traces = figures["api_requests_per_order"] + sum(w["executions"] for w in sfn.values())
    beside = {
        "xray": traces * prices["xray_trace"] * n,
        "cloudwatch_logs": figures["lambda_invocations_per_order"] * LOG_BYTES_PER_INVOCATION / 1e9
        * prices["cloudwatch_logs_gb"] * n,
        "emails_and_sms": "excluded",
    }
    return {
        "prices": {"date": prices["date"], "region": prices["region"]},
        "items": {k: round(v, 6) for k, v in items.items()},
        "cost_per_1000_orders_usd": round(total, 6),
        "standard_workflows_cost_per_1000_orders_usd": round(total - express + standard, 6),
        "dispatch_email_per_1000_usd": prices["ses_email"] * n,
        "over_dispatch_email": round(total / (prices["ses_email"] * n), 3),
        "beside_excluded": {k: (round(v, 6) if isinstance(v, float) else v) for k, v in beside.items()},
    }


def return_run(api_url: str, *, returns: int = 3) -> dict[str, Any]:
    """One return with a refund, ``returns`` times, metered apart from the orders: a completed
    bench order (placed, dispatched and settled before the meter is reset), one unit returned by
    the webshop, received resellable by the warehouse (restocked), then the stack left to issue
    the credit note, refund it through the provider, mark the return REFUNDED, tell the customer
    (the return's and the refund's emails) and publish the finance events. Not on the order's
    happy path: the figures stand beside the per-order targets."""
    dc = KEYS["dc"]
    with Api(api_url, timeout=60) as api:
        sku = f"BENCH-R{uuid.uuid4().hex[:8]}"
        api.put_stock(sku, "DC-BERLIN", returns * 2)
        ids = [api.place(_order(sku), KEYS["webshop"], uuid.uuid4().hex)["order_id"] for _ in range(returns)]
        api.settle(60)
        for shipment in [s for s in api.requested(dc) if s["order_id"] in ids]:
            ok(api.dispatch(shipment["shipment_id"], dc, f"TRK{uuid.uuid4().hex[:10]}"), "dispatch")
        api.settle(60)
        api.reset_meter()
        done = []
        for order_id in ids:
            ret = api.ask_return(order_id, {"lines": [{"line_id": "1", "quantity": 1, "reason": "DEFECTIVE"}]},
                                 uuid.uuid4().hex)
            api.receive(ret, f"RCV-{uuid.uuid4().hex[:8]}", [{"line_id": "1", "quantity": 1,
                                                              "condition": "RESELLABLE"}])
            api.settle(60)
            done.append(api.returned(ret["return_id"])["status"])
        meter = api.meter()
    rest, _rendering, documents = split_documents(meter)  # the credit notes' PDFs: per document
    figures = per_order(rest, returns)
    money = cost_per_1000(figures)
    return {"returns": returns, "refunded": done.count("REFUNDED"), "credit_note_documents": documents,
            "aws_requests_per_return": round(figures["aws_requests_per_order"], 2),
            "aws_requests_by_operation": figures["aws_requests_by_operation"],
            "api_requests_per_return": figures["api_requests_per_order"],
            "cost_per_1000_returns_usd": money["cost_per_1000_orders_usd"], "cost_items": money["items"]}


def reconciler_run(api_url: str) -> dict[str, Any]:
    """One run of the reconciler (``POST /_local/schedules/reconcile/run``) on the stack as the
    happy-path orders left it — all COMPLETED before the threshold, so off the open orders'
    index: what an idle run costs, a fixed cost per month (not per order; at the deployed rate)
    and its share per 1,000 orders at ``ORDERS_PER_MONTH``. The local schedule's own rate (a
    week: 6,048 s at the local time scale) keeps its runs out of the per-order figures."""
    with Api(api_url, timeout=60) as api:
        api.settle(60)
        api.reset_meter()
        r = api.http.post("/_local/schedules/reconcile/run", timeout=60)
        report = ok(r, "run the reconciler")["result"]
        api.settle(60)
        meter = api.meter()
    figures = per_order(meter, 1)
    prices = PRICES
    ddb = figures["dynamodb_per_order"]
    per_run = (figures["lambda_invocations_per_order"] * prices["lambda_request"]
               + figures["lambda_billed_ms_per_order"] / 1000 * prices["lambda_memory_mb"] / 1024
               * prices["lambda_gb_second_arm"]
               + ddb.get("read_units", 0) * prices["dynamodb_read_unit"]
               + (ddb.get("write_units", 0) + ddb.get("index_write_units", 0)) * prices["dynamodb_write_unit"]
               + prices["scheduler_invocation"])
    monthly = per_run * RECONCILER_RUNS_PER_MONTH
    return {"found": report, "aws_requests": figures["aws_requests_per_order"],
            "aws_requests_by_operation": figures["aws_requests_by_operation"],
            "read_units": ddb.get("read_units", 0), "write_units": ddb.get("write_units", 0),
            "lambda_billed_ms": figures["lambda_billed_ms_per_order"],
            "cost_per_run_usd": round(per_run, 9), "runs_per_month": RECONCILER_RUNS_PER_MONTH,
            "fixed_cost_per_month_usd": round(monthly, 6), "orders_per_month": ORDERS_PER_MONTH,
            "share_per_1000_orders_usd": round(monthly / ORDERS_PER_MONTH * 1000, 6)}
