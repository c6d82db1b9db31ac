"""``POST /_local/fill``: fill the local stack with realistic order history, fast (API.md, "Local").

``{"orders": 10000}`` (or ``{"items": 100000}``: as many orders as make about that many items)
places one real order through the API — stock for a fill SKU, ``POST /orders``, the warehouse's
dispatch — waits until it is ``COMPLETED``, and then writes that many copies of every item the
OMS wrote for it: the header with its listing entries, the details, the shipment, the invoice,
the notices, the timeline. So the fill holds exactly the item shapes the code writes, with their
index entries, and follows the code when it changes. Each copy has its own ids (ULIDs of its own
time), channel order id, customer (one of ``customers``, default 2,000), e-mail, invoice number
(a block taken from the legal entity's counter, which moves past it) and times: the copies are
spread over the ``days`` (default 28) before the template, within its year, oldest first.

The copies are written as DynamoDB's import from S3 writes a table: straight into the table,
with no stream records, so no stream consumer acts on history (no workflow, notice, invoice or
finance event for a filled order); they are in every index at once (``dynamodb_partitions``).
The local time scale, the meter and the outbox do not see them. ``oms local fill`` calls it.
Answers ``{"orders", "items", "items_per_order", "template_order_id", "seconds"}``.
"""

from __future__ import annotations

import json
import logging
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table
from werkzeug.test import Client
from werkzeug.wrappers import Request, Response

from functions.core.adapters.keys import channel_ref_key, counter_key, order_pk
from functions.core.errors import PROBLEM_JSON, problem_body
from functions.core.ids import ulid
from localcloud import ACCOUNT_ID, REGION
from localcloud.frontdoor import FrontDoor, LocalProblem, json_object, register_local_route
from localcloud.patches import dynamodb_partitions
from localcloud.patches.dynamodb_linearizable import LOCK

MAX_ORDERS = 200_000
CHUNK = 2_000  # items written per hold of the DynamoDB lock: the stack keeps serving meanwhile
SKU = "FILL-SKU"
CHANNEL_KEY, NODE_KEY = "local-webshop-key", "local-dc-key"  # API.md's local keys
TEMPLATE_CUSTOMER, TEMPLATE_EMAIL = "FILL-TEMPLATE-CUSTOMER", "fill-template@example.com"

_ID = re.compile(r"\b([a-z]{2,5})_([0-9A-HJKMNP-TV-Z]{26})\b")
_INVOICE = re.compile(r"\bINV-(\d{4})-(\d{6})\b")
_TIME = re.compile(
    r"(?P<dt>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?P<frac>\.\d{1,6})?(?P<tz>Z|[+-]\d{2}:\d{2})?)"
    r"|(?P<d>\d{4}-\d{2}-\d{2})(?![T\d])"
    r"|(?<=#)(?P<m>\d{4}-\d{2})(?=[\"#])"
)




# -- the template: one real order, through the API ------------------------------------------------


def _api(client: Client, method: str, path: str, key: str, body: Any = None, **headers: str) -> tuple[int, Any]:
    response = client.open(path, method=method, json=body, headers={"x-api-key": key, **headers})
    return response.status_code, json.loads(response.get_data() or b"null")


def _template_order(door: FrontDoor, run: str, timeout: float = 60.0) -> str:
    client = Client(door)
    status, body = _api(client, "PUT", f"/inventory/{SKU}/nodes/DC-BERLIN", NODE_KEY, {"on_hand": 1_000_000})
    if status != 200:
        raise LocalProblem(503, f"the stack refused the fill's stock ({status}): {body}")
    order = {
        "channel_order_id": f"FILL-{run}-TEMPLATE",
        "customer": {"customer_id": TEMPLATE_CUSTOMER, "email": TEMPLATE_EMAIL, "locale": "en-GB"},
        "currency": "EUR",
        "lines": [{"sku": SKU, "quantity": 1, "unit_price": "19.90"}],
        "shipping_address": {"name": "Fill Customer", "line1": "Unter den Linden 1", "city": "Berlin",
                             "postal_code": "10117", "country": "DE"},
        "shipping_method": "standard",
        "payment": {"method": "card", "authorization_id": f"auth_fill_{run}", "amount": "30.00"},
    }
    status, body = _api(client, "POST", "/orders", CHANNEL_KEY, order, **{"Idempotency-Key": f"fill-{run}"})
    if status != 201:
        raise LocalProblem(503, f"the stack refused the fill's template order ({status}): {body}")
    order_id = str(body["order_id"])
    deadline = time.monotonic() + timeout
    dispatched: set[str] = set()
    while time.monotonic() < deadline:
        _, view = _api(client, "GET", f"/orders/{order_id}", CHANNEL_KEY)
        if view.get("status") == "COMPLETED" and view.get("invoices"):
            return order_id
        for shipment in view.get("shipments") or []:
            if shipment["status"] == "REQUESTED" and shipment["shipment_id"] not in dispatched:
                _api(client, "POST", f"/shipments/{shipment['shipment_id']}/dispatch", NODE_KEY,
                     {"carrier": "DHL", "tracking_number": f"FILL{run}"})
                dispatched.add(shipment["shipment_id"])
        time.sleep(0.2)
    raise LocalProblem(503, f"the fill's template order {order_id} did not complete within {timeout:.0f} s")


def _template_items(table: Table, order_id: str, channel_order_id: str) -> list[dict[str, Any]]:
    with LOCK:
        partition = table.items.get(DynamoType({"S": order_pk(order_id)})) or {}
        items = [item.to_json()["Attributes"] for item in partition.values()]
        ref = channel_ref_key("webshop", channel_order_id)
        stored = (table.items.get(DynamoType({"S": ref["PK"]})) or {}).get(DynamoType({"S": ref["SK"]}))
        if stored is not None:
            items.append(stored.to_json()["Attributes"])
    return items


# -- the copies -----------------------------------------------------------------------------------


def _shift(match: re.Match[str], by: timedelta, month: str) -> str:
    if match.group("m"):
        return month
    if match.group("d"):
        return (datetime.strptime(match.group("d"), "%Y-%m-%d") + by).strftime("%Y-%m-%d")
    text, frac, tz = match.group("dt"), match.group("frac") or "", match.group("tz") or ""
    at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    moved = (at + by).astimezone(at.tzinfo)
    out = moved.strftime("%Y-%m-%dT%H:%M:%S")
    if frac:  # as many digits as the original had
        out += "." + f"{moved.microsecond:06d}"[: len(frac) - 1]
    if tz == "Z":
        out += "Z"
    elif tz:
        out += moved.strftime("%z")[:3] + ":" + moved.strftime("%z")[3:]
    return out


def _copies(template: list[dict[str, Any]], numbers: range, total: int, *, run: str, first_invoice: int,
            days: float, customers: int, now: datetime) -> list[list[dict[str, Any]]]:
    """Copies ``numbers`` of ``total``: copy k is placed at k/total of the span, oldest first."""
    text = json.dumps(template)
    # ids derived from another keep deriving from it (``shp_<the order's ULID>-1``): one new ULID per value
    ids = sorted({value for _, value in _ID.findall(text)})
    invoices = sorted(set(_INVOICE.findall(text)))
    start = max(now - timedelta(days=days), now.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0))
    span = (now - start).total_seconds()
    orders = []
    for k in numbers:
        at = start + timedelta(seconds=span * k / max(total, 1))
        by = at - now
        ms = int(at.timestamp() * 1000)
        copy = text
        for value in ids:
            copy = copy.replace(value, ulid(ms))
        for n, (year, number) in enumerate(invoices):
            copy = copy.replace(f"INV-{year}-{number}", f"INV-{year}-{first_invoice + k * len(invoices) + n:06d}")
        customer = k % customers
        copy = (copy.replace(f"FILL-{run}-TEMPLATE", f"FILL-{run}-{k:06d}")
                .replace(TEMPLATE_CUSTOMER, f"FILL-C{customer:05d}")
                .replace(TEMPLATE_EMAIL, f"customer{customer:05d}@example.com"))
        month = at.strftime("%Y-%m")
        copy = _TIME.sub(lambda m: _shift(m, by, month), copy)  # noqa: B023 - used at once
        orders.append(json.loads(copy))
    return orders


def _write(table: Table, items: list[dict[str, Any]]) -> None:
    """Straight into the table, as an import does: no stream record, every index at once."""
    with LOCK:
        for attrs in items:
            hash_value = DynamoType(attrs[table.hash_key_attr])
            range_value = DynamoType(attrs[table.range_key_attr]) if table.range_key_attr else None
            item = Item(hash_value, range_value, attrs)
            if range_value is not None:
                table.items[hash_value][range_value] = item
            else:
                table.items[hash_value] = item  # type: ignore[assignment]
            dynamodb_partitions.reindex(table, hash_value, range_value)


def _take_invoice_numbers(table: Table, template: list[dict[str, Any]], count: int) -> int:
    """Move the legal entity's invoice counter past ``count`` numbers: the first of them."""
    invoice = next((i for i in template if i["SK"]["S"].startswith("INVOICE#")), None)
    if invoice is None:
        return 1
    number = invoice["SK"]["S"].removeprefix("INVOICE#")
    year = int(_INVOICE.search(number).group(1))  # type: ignore[union-attr]
    entity = invoice["GSI1PK"]["S"].split("#")[1]  # INVOICES#<legal entity>#<yyyy-mm>
    key = counter_key(entity, year)
    with LOCK:
        stored = (table.items.get(DynamoType({"S": key["PK"]})) or {}).get(DynamoType({"S": key["SK"]}))
        if stored is None:
            raise LocalProblem(503, f"no invoice counter for {entity} {year}")
        last = int(stored.attrs["last_number"].value)
        if last + count >= 1_000_000:
            raise LocalProblem(422, f"orders: {count} more invoices would pass INV-{year}-999999", "orders")
        stored.attrs["last_number"] = DynamoType({"N": str(last + count)})
    return last + 1


def fill(door: FrontDoor, *, orders: int | None = None, items: int | None = None, days: float = 28,
         customers: int = 2000) -> dict[str, Any]:
    started = time.monotonic()
    table_name = door.deployment.outputs["TableName"]
    table = dynamodb_backends[ACCOUNT_ID][REGION].tables[table_name]
    run = ulid()[-8:]
    order_id = _template_order(door, run)
    template = _template_items(table, order_id, f"FILL-{run}-TEMPLATE")
    per_order = len(template)
    wanted = orders if orders is not None else round((items or 0) / per_order)
    count = max(0, wanted - 1)  # the template is one of them
    if count > MAX_ORDERS:
        raise LocalProblem(422, f"{'orders' if orders is not None else 'items'}: at most {MAX_ORDERS} orders",
                        "orders" if orders is not None else "items")
    first_invoice = _take_invoice_numbers(table, template, count * len(set(_INVOICE.findall(json.dumps(template)))))
    now = datetime.fromisoformat(next(i for i in template if i["SK"]["S"] == "DETAILS")["created_at"]["S"])
    written = 0
    batch = max(1, CHUNK // per_order)
    for offset in range(0, count, batch):
        copies = _copies(template, range(offset, min(offset + batch, count)), count, run=run,
                         first_invoice=first_invoice, days=days, customers=customers, now=now)
        flat = [item for order in copies for item in order]
        _write(table, flat)
        written += len(flat)
    return {"orders": count + 1, "items": written + per_order, "items_per_order": per_order,
            "template_order_id": order_id, "seconds": round(time.monotonic() - started, 2)}


# -- the route ------------------------------------------------------------------------------------


def _count(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise LocalProblem(422, f"{name}: a whole number of at least 0", name)
    return value


def _route(request: Request, door: FrontDoor) -> Response:
    if request.method != "POST":
        return Response("POST", status=405)
    body = json_object(request, '{"orders": 10000} or {"items": 100000}', "orders")
    try:
        orders, items = _count(body, "orders"), _count(body, "items")
        if (orders is None) == (items is None):
            raise LocalProblem(422, "orders: give either orders or items", "orders")
        days = body.get("days", 28)
        if isinstance(days, bool) or not isinstance(days, int | float) or not 0 < days <= 366:
            raise LocalProblem(422, "days: a number of days between 0 and 366", "days")
        customers = _count(body, "customers") or 2000
        answer = fill(door, orders=orders, items=items, days=float(days), customers=max(1, customers))
    except LocalProblem:
        raise
    except Exception as exc:  # a local tool: say what broke, as problem+json
        logging.getLogger("localcloud.fill").exception("fill failed")
        return Response(problem_body(500, "Fill failed", f"{type(exc).__name__}: {exc}", slug="internal"),
                        status=500, content_type=PROBLEM_JSON)
    return Response(json.dumps(answer), content_type="application/json")


register_local_route("fill", _route)
