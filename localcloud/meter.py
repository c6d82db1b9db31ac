"""Count what a piece of work costs in AWS requests, on the local stack.

- AWS API calls, counted with a botocore ``before-call`` event hook on boto3's default session
  (every function's clients and the Step Functions interpreter's service integrations use it),
  attributed to the Lambda function making them (``caller``), or to ``states`` for the calls
  the workflow engine makes outside any function (its Lambda task invocations);
- Lambda invocations per function, from the local runtime (API Gateway, event source mappings
  and Step Functions all invoke through it);
- API Gateway requests, counted by the front door (``/_local/`` routes are not the API).

- the partition keys each function's DynamoDB calls name (of the table, or of the index a Query
  reads), per IAM action and resource, for the least-privilege test that holds them to the
  function's ``dynamodb:LeadingKeys`` patterns (tests/least_privilege.py); these accumulate for the
  life of the process (``GET /_local/leading-keys``), a counts reset leaves them.

``GET /_local/requests`` shows the counts since the last ``POST /_local/requests/reset``;
``POST /_local/settle`` waits until the stack is idle, so a client can measure one piece of
work without counting its own polling. Not deployed: on AWS the same figures come from
CloudTrail and CloudWatch.
"""

from __future__ import annotations

import collections
import contextvars
import json
import logging
import math
import re
import threading
import time
from typing import Any

from werkzeug.wrappers import Request, Response

logger = logging.getLogger("localcloud.meter")

_caller: contextvars.ContextVar[str | None] = contextvars.ContextVar("oms_local_caller", default=None)
_lock = threading.Lock()
_calls: collections.Counter[tuple[str, str, str]] = collections.Counter()
_invocations: collections.Counter[str] = collections.Counter()
_billed_ms: collections.Counter[str] = collections.Counter()  # per function, each run rounded up to 1 ms
_api: collections.Counter[str] = collections.Counter()
_capacity: collections.Counter[str] = collections.Counter()  # estimated DynamoDB units (see "DynamoDB capacity" below)
_writes: collections.Counter[tuple[str, str]] = collections.Counter()  # WRU + index WRU by (caller, item kind)
_reads: collections.Counter[str] = collections.Counter()  # RRU of GetItem/Query/Scan/BatchGetItem by caller
#: (function, IAM action, table or table/index/name) -> partition key head -> distinct values seen
_leading: dict[tuple[str, str, str], dict[str, set[str]]] = collections.defaultdict(dict)
_LEADING_SAMPLES = 20  # distinct values kept per head (the ids vary; the shape is what matters)
_since: list[float] = [0.0]  # when the counts were last reset (epoch seconds)
_installed_on: set[int] = set()


def enter_function(name: str) -> contextvars.Token[str | None]:
    """The Lambda runtime marks the thread as running ``name`` (AWS calls are attributed to it)."""
    with _lock:
        _invocations[name] += 1
    return _caller.set(name)


def exit_function(token: contextvars.Token[str | None], seconds: float = 0.0) -> None:
    name = _caller.get()
    _caller.reset(token)
    if name is not None:
        with _lock:
            _billed_ms[name] += max(1, math.ceil(seconds * 1000))


def current_caller() -> str | None:
    """The Lambda function this thread is running (None: the workflow engine or the stack itself)."""
    return _caller.get()


def api_request(method: str, path: str) -> None:
    with _lock:
        _api[f"{method} {path}"] += 1


def _before_call(model: Any = None, **_: Any) -> None:
    if model is None:
        return
    service = model.service_model.endpoint_prefix
    with _lock:
        _calls[(_caller.get() or "states", service, model.name)] += 1


def _before_parameter_build(params: Any = None, model: Any = None, context: Any = None, **_: Any) -> None:
    """DynamoDB's API parameters (``before-call`` only sees the serialized request), and the
    size of every item a write names as it is before the write."""
    if model is None or not isinstance(params, dict) or not isinstance(context, dict):
        return
    try:  # a botocore hook's exception would fail the function's call: the meter never may
        caller = _caller.get()
        if caller is not None:
            _record_leading_keys(caller, model.name, params)
        context["oms_meter_params"] = params
        planned = _planned_writes(model.name, params)
        context["oms_meter_writes"] = [(*w, _stored_size(params, w[0], w[1])) for w in planned]
    except Exception:
        logger.exception("meter: a DynamoDB call was not measured")


def _after_call(model: Any = None, parsed: Any = None, context: Any = None, **_: Any) -> None:
    if model is None or model.service_model.endpoint_prefix != "dynamodb" or not isinstance(parsed, dict):
        return
    try:  # never fail the function's call (see _before_parameter_build)
        params = (context or {}).get("oms_meter_params") or {}
        writes = (context or {}).get("oms_meter_writes") or []
        # the larger of the item before and after the write, as DynamoDB bills it (a refused
        # write is billed too, by the item as it is)
        after = [(w, _stored_size(params, w[0], w[1]) if "Error" not in parsed else None) for w in writes]
        with _lock:
            for (key, _table, transactional, indexed, check, before), size in after:
                if check:
                    _capacity["read_units"] += 2 * math.ceil(max(before or 0, 1) / 4096)
                else:
                    _write(key, max(before or 0, size or 0, 1), transactional=transactional, indexed=indexed)
            _dynamodb_reads(model.name, params, parsed)
    except Exception:
        logger.exception("meter: a DynamoDB call was not measured")


# -- DynamoDB capacity, estimated from what the calls carry ---------------------------------------
# Units as on-demand bills them: a write 1 WRU per KB of the item (2 in a transaction), a read
# 1 RRU per 4 KB strongly consistent (0.5 eventually), a Query by the total size it returns.
# An item's size is read from moto's table before and after the write (the local stack runs
# moto in-process); a write is billed by the larger. Index writes: a put writes one small entry
# per index whose keys the item carries (an open order header: GSI1-4); an update that changes
# the projected ``summary`` rewrites the item's summary entries (3 for an order header, 1 for
# shipments, invoices and finance flags), one that sets or removes a GSI's keys writes that
# index's entry (the open orders' GSI4 at completion: 1); an update that leaves them alone
# writes no index. moto reports no consumed capacity, hence the estimate.

def _size(item: dict[str, Any]) -> int:
    """An item's size as DynamoDB counts it: attribute names plus values (strings in UTF-8
    bytes, numbers about one byte per two digits, 3 bytes of overhead per map or list, 1 per element)."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: dict[str, Any]) -> int:
    (kind, inner), = value.items()
    if kind == "S":
        return len(str(inner).encode())
    if kind == "N":
        return len(str(inner).lstrip("-").replace(".", "")) // 2 + 1
    if kind == "B":
        return len(str(inner)) * 3 // 4
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + _value_size(v) + 1 for k, v in inner.items())
    if kind == "L":
        return 3 + sum(_value_size(v) + 1 for v in inner)
    if kind in ("SS", "NS", "BS"):
        return sum(len(str(v).encode()) for v in inner)
    return len(json.dumps(inner))


def _key(item: dict[str, Any]) -> tuple[str, str]:
    return str(item.get("PK", {}).get("S", "")), str(item.get("SK", {}).get("S", ""))


def _index_entries(key: tuple[str, str]) -> int:
    pk, sk = key
    if sk == "ORDER":
        return 3
    if sk.startswith(("INVOICE#", "CREDITNOTE#")):  # GSI1 (a month's documents), GSI2 (by number)
        return 2
    if sk.startswith(("SHIPMENT#", "FLAG#", "RETURN#")) or (pk.startswith("NODE#") and sk == "NODE"):
        return 1
    return 0


def _kind(key: tuple[str, str]) -> str:
    """What an item is, without its ids: ``ORDER``, ``EVENT``, ``SHIPMENT``, ``SKU/NODE``..."""
    pk, sk = key
    head = sk.split("#", 1)[0]
    return head if head not in ("", "NODE", "COUNTER", "REF") else f"{pk.split('#', 1)[0]}/{head or '-'}"


def _write(key: tuple[str, str], size: int, *, transactional: bool, indexed: bool | int = True) -> None:
    units = math.ceil(max(size, 1) / 1024) * (2 if transactional else 1)
    index_units = (_index_entries(key) if indexed else 0) if isinstance(indexed, bool) else indexed
    _capacity["write_units"] += units
    _capacity["index_write_units"] += index_units
    _writes[(_caller.get() or "states", _kind(key))] += units + index_units


def _touches_indexes(op: dict[str, Any]) -> bool | int:
    """False, True (the item's summary entries), or how many indexes' keys the update sets or removes."""
    names = " ".join(str(v) for v in (op.get("ExpressionAttributeNames") or {}).values())
    text = f"{op.get('UpdateExpression', '')} {names}"
    if "summary" in text:
        return True
    return len(set(re.findall(r"GSI\d+", text)))


def _put_indexes(item: dict[str, Any]) -> int:
    """How many (sparse) indexes a put item is on: one entry per index whose keys it carries."""
    return len({name[:-2] for name in item if re.fullmatch(r"GSI\d+PK", name)})


Write = tuple[tuple[str, str], str, bool, bool | int, bool]  # key, table, transactional, indexed, check only


def _planned_writes(operation: str, params: dict[str, Any]) -> list[Write]:
    """The items a write call changes (or only checks), with how each is billed."""
    if operation == "PutItem":
        item = params.get("Item", {})
        return [(_key(item), str(params.get("TableName", "")), False, _put_indexes(item), False)]
    if operation in ("UpdateItem", "DeleteItem"):
        return [(_key(params.get("Key", {})), str(params.get("TableName", "")), False,
                 operation == "DeleteItem" or _touches_indexes(params), False)]
    writes: list[Write] = []
    if operation == "TransactWriteItems":
        for action in params.get("TransactItems", []):
            kind, op = next(iter(action.items()))
            key = _key(op.get("Item", {}) if kind == "Put" else op.get("Key", {}))
            indexed = _put_indexes(op.get("Item", {})) if kind == "Put" else (
                _touches_indexes(op) if kind == "Update" else kind != "ConditionCheck")
            writes.append((key, str(op.get("TableName", "")), True, indexed, kind == "ConditionCheck"))
    return writes


def _stored_size(params: dict[str, Any], key: tuple[str, str], table: str | None = None) -> int | None:
    """The size of item ``key`` as moto holds it now (0 if absent; None if no such table here)."""
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.models.dynamo_type import DynamoType

    name = table or str(params.get("TableName") or "")
    if not name:  # a transaction: each action names its table
        for action in params.get("TransactItems", []):
            op = next(iter(action.values()))
            if _key(op.get("Item", {}) if "Item" in op else op.get("Key", {})) == key:
                name = str(op.get("TableName", ""))
                break
    for regions in list(dynamodb_backends.values()):
        for backend in list(regions.values()):
            stored = backend.tables.get(name)
            if stored is None:
                continue
            item = stored.get_item(DynamoType({"S": key[0]}), DynamoType({"S": key[1]}))
            for _ in range(3):  # another thread may be updating the item's attributes right now
                try:
                    return int(item.size()) if item is not None else 0
                except RuntimeError:
                    continue
            return None
    return None


def _dynamodb_reads(operation: str, params: dict[str, Any], parsed: dict[str, Any]) -> None:
    if operation == "GetItem":
        items = [parsed["Item"]] if "Item" in parsed else []
    elif operation in ("Query", "Scan"):
        items = list(parsed.get("Items", []))
    elif operation == "BatchGetItem":
        items = [i for found in (parsed.get("Responses") or {}).values() for i in found]
    else:
        return
    total = sum(_size(item) for item in items)
    factor = 1.0 if params.get("ConsistentRead") else 0.5
    _capacity["read_units"] += max(1, math.ceil(total / 4096)) * factor
    _reads[_caller.get() or "states"] += max(1, math.ceil(total / 4096)) * factor


# -- partition keys touched, per function (dynamodb:LeadingKeys) ---------------------------------
# IAM evaluates a call per action it implies: a transaction's Put/Update/Delete/ConditionCheck as
# PutItem/UpdateItem/DeleteItem/ConditionCheckItem, a TransactGetItems' Get as GetItem, a batch's
# items as the batch action with every key's partition in dynamodb:LeadingKeys; a Query on an
# index names the index's partition key. A Scan names none (recorded with no value).
_TRANSACT_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                     "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}
_EQUALS = re.compile(r"([#:]?[A-Za-z0-9_]+)\s*=\s*([#:]?[A-Za-z0-9_]+)")


def _hash_attribute(table: str, index: str | None) -> str:
    if index is None:
        return "PK"
    from moto.dynamodb.models import dynamodb_backends

    for regions in list(dynamodb_backends.values()):
        for backend in list(regions.values()):
            stored = backend.tables.get(table)
            for gsi in (stored.global_indexes + stored.indexes) if stored is not None else []:
                if gsi.name == index:
                    return next(str(k["AttributeName"]) for k in gsi.schema if k["KeyType"] == "HASH")
    return f"{index}PK"


def _string(value: Any) -> str | None:
    return str(value["S"]) if isinstance(value, dict) and "S" in value else None


def _query_partition(params: dict[str, Any], attribute: str) -> str | None:
    legacy = (params.get("KeyConditions") or {}).get(attribute)
    if legacy:
        return _string((legacy.get("AttributeValueList") or [None])[0])
    names = params.get("ExpressionAttributeNames") or {}
    values = params.get("ExpressionAttributeValues") or {}
    for left, right in _EQUALS.findall(str(params.get("KeyConditionExpression") or "")):
        for name, value in ((left, right), (right, left)):
            if names.get(name, name) == attribute and value in values:
                return _string(values[value])
    return None


def _touches(operation: str, params: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    """(IAM action, resource, partition key value) for every item or partition a call names."""
    table = str(params.get("TableName") or "")
    if operation in ("GetItem", "UpdateItem", "DeleteItem"):
        return [(operation, table, _string((params.get("Key") or {}).get("PK")))]
    if operation == "PutItem":
        return [(operation, table, _string((params.get("Item") or {}).get("PK")))]
    if operation == "Query":
        index = params.get("IndexName")
        resource = f"{table}/index/{index}" if index else table
        return [(operation, resource, _query_partition(params, _hash_attribute(table, index)))]
    if operation == "Scan":
        index = params.get("IndexName")
        return [(operation, f"{table}/index/{index}" if index else table, None)]
    if operation == "BatchGetItem":
        return [(operation, name, _string(key.get("PK")))
                for name, request in (params.get("RequestItems") or {}).items() for key in request.get("Keys", [])]
    if operation == "BatchWriteItem":
        return [(operation, name, _string((w.get("PutRequest", {}).get("Item") or w.get("DeleteRequest", {})
                                           .get("Key") or {}).get("PK")))
                for name, writes in (params.get("RequestItems") or {}).items() for w in writes]
    if operation in ("TransactWriteItems", "TransactGetItems"):
        touched = []
        for action in params.get("TransactItems", []):
            kind, op = next(iter(action.items()))
            key = op.get("Item") if kind == "Put" else op.get("Key")
            touched.append((_TRANSACT_ACTIONS.get(kind, kind), str(op.get("TableName", "")),
                            _string((key or {}).get("PK"))))
        return touched
    return []


def _record_leading_keys(caller: str, operation: str, params: dict[str, Any]) -> None:
    touched = _touches(operation, params)
    with _lock:
        for action, resource, value in touched:
            heads = _leading[(caller, f"dynamodb:{action}", resource)]
            head = "" if value is None else value.split("#", 1)[0]
            seen = heads.setdefault(head, set())
            if len(seen) < _LEADING_SAMPLES:
                seen.add("" if value is None else value)


def leading_keys() -> list[dict[str, Any]]:
    """What every function's DynamoDB calls named: one entry per function, action and resource,
    with sample partition key values ("" for a call that names none: a Scan)."""
    with _lock:
        return [{"function": caller, "action": action, "resource": resource,
                 "values": sorted(v for seen in heads.values() for v in seen)}
                for (caller, action, resource), heads in sorted(_leading.items())]


def reset_leading_keys() -> None:
    with _lock:
        _leading.clear()


def _workflows() -> dict[str, Any]:
    """Executions started since the reset: count, state transitions (states entered, which is
    what Standard bills) and duration (what Express bills), per state machine."""
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    machines: dict[str, dict[str, float]] = {}
    for account in list(stepfunctions_parser_backends.values()):
        for backend in list(account.values()):
            for machine in list(backend.state_machines):
                for execution in list(getattr(machine, "executions", [])):
                    started = execution.start_date.timestamp()
                    if started < _since[0]:
                        continue
                    entry = machines.setdefault(machine.name, {"executions": 0, "state_transitions": 0,
                                                               "duration_ms": 0.0})
                    entry["executions"] += 1
                    history = execution.to_history_output().get("events", [])
                    entry["state_transitions"] += sum(1 for e in history if str(e.get("type", "")).endswith(
                        "StateEntered"))
                    if execution.stop_date is not None:
                        entry["duration_ms"] += (execution.stop_date.timestamp() - started) * 1000
    return machines


def hook_default_session(installed: set[int], hooks: tuple[tuple[str, Any], ...]) -> None:
    """Register ``hooks`` (event name, handler) on boto3's default session, once per session
    (``installed`` holds the sessions already hooked): every function's clients and the workflow
    engine's service integrations are made from it. The fault injector hooks it the same way."""
    import boto3

    if boto3.DEFAULT_SESSION is None:
        boto3.setup_default_session()
    session = boto3.DEFAULT_SESSION
    assert session is not None
    if id(session) not in installed:
        for event, handler in hooks:
            session.events.register(event, handler)
        installed.add(id(session))


def install() -> None:
    """Hook boto3's default session (idempotent)."""
    hook_default_session(_installed_on, (("before-call", _before_call), ("after-call", _after_call),
                                         ("before-parameter-build.dynamodb", _before_parameter_build)))


def reset() -> None:
    with _lock:
        _calls.clear()
        _invocations.clear()
        _billed_ms.clear()
        _api.clear()
        _capacity.clear()
        _writes.clear()
        _reads.clear()
        _since[0] = time.time()


def snapshot() -> dict[str, Any]:
    """``aws``: calls by service and operation (and by caller), ``lambda_invocations`` by
    function, ``api_requests`` by method and path, and the totals."""
    with _lock:
        calls, invocations, api, billed = dict(_calls), dict(_invocations), dict(_api), dict(_billed_ms)
        capacity: dict[str, Any] = {k: round(v, 1) for k, v in _capacity.items()}
        writes_by: dict[str, dict[str, int]] = collections.defaultdict(dict)
        for (caller, kind), units in sorted(_writes.items()):
            writes_by[caller][kind] = units
        capacity["write_units_by_caller"] = dict(writes_by)  # WRU + index WRU, by item kind
        capacity["read_units_by_caller"] = {caller: round(units, 1) for caller, units in sorted(_reads.items())}
    by_operation: collections.Counter[str] = collections.Counter()
    by_service: collections.Counter[str] = collections.Counter()
    by_caller: dict[str, dict[str, int]] = collections.defaultdict(dict)
    for (caller, service, operation), n in calls.items():
        by_operation[f"{service}.{operation}"] += n
        by_service[service] += n
        by_caller[caller][f"{service}.{operation}"] = n
    return {
        "aws_calls": {"total": sum(by_service.values()), "by_service": dict(by_service),
                      "by_operation": dict(by_operation), "by_caller": dict(by_caller)},
        "lambda_invocations": {"total": sum(invocations.values()), "by_function": invocations,
                               # local wall time, a proxy for AWS's billed duration (1 ms granularity)
                               "billed_ms_by_function": billed, "billed_ms_total": sum(billed.values())},
        "api_requests": {"total": sum(api.values()), "by_route": api},
        "dynamodb_capacity": capacity,
        "workflows": _workflows(),
    }


def _requests_route(request: Request, door: Any) -> Response:
    return Response(json.dumps(snapshot(), indent=2), mimetype="application/json")


def _reset_route(request: Request, door: Any) -> Response:
    if request.method != "POST":
        return Response("POST to reset", status=405)
    reset()
    return Response(json.dumps(snapshot()), mimetype="application/json")


def _leading_keys_route(request: Request, door: Any) -> Response:
    return Response(json.dumps(leading_keys(), indent=2), mimetype="application/json")


def _settle_route(request: Request, door: Any) -> Response:
    from localcloud.settle import settle

    if request.method != "POST":
        return Response("POST to wait until the local stack is idle", status=405)
    timeout = float(request.args.get("timeout", "30"))
    try:
        settle(timeout)
    except TimeoutError as exc:
        return Response(json.dumps({"idle": False, "busy": str(exc)}), status=504, mimetype="application/json")
    return Response(json.dumps({"idle": True}), mimetype="application/json")


def register_routes() -> None:
    from localcloud.frontdoor import register_local_route

    register_local_route("requests", _requests_route)
    register_local_route("requests/reset", _reset_route)
    register_local_route("settle", _settle_route)
    register_local_route("leading-keys", _leading_keys_route)
