"""Cold start of every deployed function next to a bare boto3 call (performance issue, part 5).

For each function of a running local stack (its handler string and Environment read from the
Lambda API, as deployed), a fresh interpreter is started with the environment Lambda gives a
function, imports the handler module and serves ONE invocation with a realistic sample event.
The baseline is a fresh interpreter that imports boto3, creates one DynamoDB client to the same
endpoint and makes one call (``describe_table`` of the stack's table). Both run the same harness
(:data:`CHILD`), so the numbers differ only by what the handler does.

Both run in a deployed function's layout, not in the project's venv: ``python -S -E`` (no
``site``, no venv, no PYTHONPATH) with ``sys.path`` = the code asset (the zip the stack's
functions were created from, unpacked: ``/var/task``), the dependencies layer's ``python/``
(``/opt/python``; a build of the same locked requirements for this machine, as the import test
uses: infra/dependencies.py) and the standard library. So boto3, for the baseline too, comes
from the layer, as it does in AWS.

Every time is measured on ``CLOCK_MONOTONIC``, which parent and child share (Linux): the parent
reads it just before spawning, the child at its first statement, after the import and after the
call. So per run:

- ``startup_ms``: spawn → the child's first statement (interpreter start-up, ``site``);
- ``import_ms``: importing the handler module (boto3 for the baseline);
- ``first_call_ms``: the first invocation (client creation + ``describe_table`` for the baseline);
- ``total_ms``: spawn → end of the first invocation (a cold start as the caller waits for it,
  without the Lambda service's own overhead: sandbox, code download, runtime bootstrap);
- ``net_ms``: ``total_ms`` minus the median start-up of a bare ``python -c`` (what the code adds);
- ``cpu_*_ms``: the child's CPU time (import, call, and from exec to the end of the call). Wall
  time swings with whatever else the machine runs; CPU time much less, and at 512 MB a function
  gets about 0.29 vCPU (1,769 MB = one vCPU), so its init time follows CPU time.

Medians over ``repeats`` runs, per field. Ratios, not absolute targets: the local machine and
its Python are not Lambda's (arm64, Python 3.13, 512 MB → a fraction of a vCPU), but a ratio of
two cold starts measured the same way carries over much better than milliseconds do. One local
difference: here ``__pycache__`` (written by the warm-up round) spares the handler compiling
the modules it imports, which Lambda does on every cold start for what has no .pyc (the asset
never has any, the layer only when built with a CPython 3.13: infra/dependencies.py
``bytecode_compiler``; both are read-only there): ``own_compile_ms`` (functions/) and
``layer_compile_ms`` (the layer's packages) estimate that; neither is in ``total_ms``.

A function with Lambda SnapStart (``SnapStart.ApplyOn = PublishedVersions`` in its configuration:
its trigger names a published version) has its init run once, when the version is published, and
a cold start restores the snapshot: its row is the start-up and the first call, its import shown
as the snapshot's init (``snapshot_init_ms``); the restore itself is not modelled, as no
function's sandbox start is.

Sample events (:func:`sample_events`) do real work against the stack where it is cheap and leave
nothing behind; task payloads name an order that does not exist (``ord_coldstart-bench``), so the
conditional writes they make fail and nothing is written. Handlers that answer their payload
with a domain error are noted (``error``); their time still counts.

Run ``python -m bench.coldstart [--url http://127.0.0.1:N] [--repeats 9]`` (``make bench`` uses 9;
without ``--url`` it starts a local stack of its own, as ``python -m bench`` does): the cold
starts alone, without the rest of ``make bench``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.request import urlopen

ROOT = Path(__file__).resolve().parents[1]
MARK = "@@COLDSTART@@"
#: The order every task payload names: it does not exist, so conditional writes fail.
ORDER_ID = "ord_coldstart-bench"
SHIPMENT_ID = f"shp_{ORDER_ID.removeprefix('ord_')}-1"
RETURN_ID = f"ret_{ORDER_ID.removeprefix('ord_')}-1"
MEMORY_MB_DEFAULT = 512
RUN_TIMEOUT_S = 120

# The child: nothing but the clock and json before the measured import, so both modes pay the
# same harness. It prints raw CLOCK_MONOTONIC readings; the parent does the arithmetic.
CHILD = r"""
import time
_t0 = (time.clock_gettime_ns(time.CLOCK_MONOTONIC), time.process_time_ns())
import json, os, sys
spec = json.loads(sys.argv[1])
# A deployed function's sys.path: /var/task, /opt/python, the standard library ("-S -E": no site,
# no venv, no PYTHONPATH; "" is the working directory, which is the task root).
sys.path[:] = spec["path"] + [p for p in sys.path if p]


class LambdaContext:
    def __init__(self, c):
        self.function_name = c["function_name"]
        self.function_version = "$LATEST"
        self.invoked_function_arn = c["invoked_function_arn"]
        self.memory_limit_in_mb = c["memory_limit_in_mb"]
        self.aws_request_id = c["aws_request_id"]
        self.log_group_name = c["log_group_name"]
        self.log_stream_name = c["log_stream_name"]
        self.identity = None
        self.client_context = None
        self._deadline_ms = time.time() * 1000 + c["timeout_ms"]

    def get_remaining_time_in_millis(self):
        return max(0, int(self._deadline_ms - time.time() * 1000))


def outcome_of(result):
    if isinstance(result, dict):
        if "statusCode" in result:
            return "HTTP %s" % result["statusCode"]
        if "batchItemFailures" in result:
            return "%d batch item failures" % len(result["batchItemFailures"])
        if "policyDocument" in result:
            return "policy " + result["policyDocument"]["Statement"][0]["Effect"]
        return json.dumps(result, default=str, sort_keys=True)[:160]
    return repr(result)[:160]


def describe(exc):
    # first line of the message, plus the innermost exception line of a batch's tracebacks
    lines = str(exc).splitlines() or [""]
    inner = [ln for ln in lines[1:] if ln[:1].isalpha() and ": " in ln and " " not in ln.split(": ")[0]]
    text = "%s: %s" % (type(exc).__name__, lines[0][:200])
    return text + (" [%s]" % inner[-1][:200] if inner else "")


error = outcome = None
if spec["mode"] == "boto3":
    _t1 = (time.clock_gettime_ns(time.CLOCK_MONOTONIC), time.process_time_ns())
    import boto3
    _t2 = (time.clock_gettime_ns(time.CLOCK_MONOTONIC), time.process_time_ns())
    try:
        db = boto3.client("dynamodb", endpoint_url=os.environ["AWS_ENDPOINT_URL"],
                          region_name=os.environ["AWS_DEFAULT_REGION"])
        outcome = db.describe_table(TableName=spec["table_name"])["Table"]["TableStatus"]
    except Exception as exc:
        error = "%s: %s" % (type(exc).__name__, exc)
    _t3 = (time.clock_gettime_ns(time.CLOCK_MONOTONIC), time.process_time_ns())
else:
    module_name, _, attr = spec["handler"].rpartition(".")
    _t1 = (time.clock_gettime_ns(time.CLOCK_MONOTONIC), time.process_time_ns())
    __import__(module_name)
    handler = getattr(sys.modules[module_name], attr)
    _t2 = (time.clock_gettime_ns(time.CLOCK_MONOTONIC), time.process_time_ns())
    try:
        outcome = outcome_of(handler(spec["event"], LambdaContext(spec["context"])))
    except Exception as exc:
        error = describe(exc)
    _t3 = (time.clock_gettime_ns(time.CLOCK_MONOTONIC), time.process_time_ns())
sys.stdout.write("\n" + spec["mark"] + json.dumps(
    {"t0": _t0, "t1": _t1, "t2": _t2, "t3": _t3, "error": error, "outcome": outcome,
     "modules": sorted(f for f in (getattr(m, "__file__", None) or "" for m in list(sys.modules.values()))
                       if f.startswith(tuple(spec["path"])))}) + "\n")
sys.stdout.flush()
"""

BARE = "import time; print(time.clock_gettime_ns(time.CLOCK_MONOTONIC), time.process_time_ns())"
#: The interpreter as Lambda starts a function's: none of this venv's packages, no PYTHON* variables.
PYTHON = (sys.executable, "-S", "-E")


def _now_ns() -> int:
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


# -- the stack ------------------------------------------------------------------------------


def _info(api_url: str) -> dict[str, Any]:
    with urlopen(api_url.rstrip("/") + "/_local/info", timeout=30) as response:  # noqa: S310 - local stack URL
        info: dict[str, Any] = json.loads(response.read())
    return info


def _client(info: dict[str, Any], service: str) -> Any:
    import boto3

    return boto3.client(service, endpoint_url=info["aws_endpoint_url"], region_name=info["region"],
                        aws_access_key_id="local", aws_secret_access_key="local")  # noqa: S106 - local dummy


def _functions(info: dict[str, Any]) -> list[dict[str, Any]]:
    lam = _client(info, "lambda")
    functions: list[dict[str, Any]] = lam.get_paginator("list_functions").paginate().build_full_result()["Functions"]
    return sorted(functions, key=lambda f: str(f["FunctionName"]))


def _api(info: dict[str, Any]) -> tuple[str, str]:
    """The REST API's id and stage from the stack outputs (for realistic ARNs in events)."""
    try:
        stack = _client(info, "cloudformation").describe_stacks(StackName=info["stack_name"])["Stacks"][0]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        return outputs.get("ApiId", "local"), outputs.get("ApiStage", "v1")
    except Exception:  # the ARNs only need their shape
        return "local", "v1"


def asset(info: dict[str, Any], functions: list[dict[str, Any]]) -> dict[str, Any]:
    """The deployed code asset's figures (:func:`fetch_asset`)."""
    body, source = fetch_asset(info, functions)
    return _asset_summary(body, source, len({f.get("CodeSha256") for f in functions}))


def fetch_asset(info: dict[str, Any], functions: list[dict[str, Any]]) -> tuple[bytes, str]:
    """The deployed code asset: the zip the stack's functions were created from, fetched from the
    CDK assets bucket it was published to (moto's ``Code.Location`` names its key), and where it
    came from. Falls back to zipping ``functions/`` as ``infra/constructs/functions.py`` excludes
    (saying so)."""
    try:
        lam, s3 = _client(info, "lambda"), _client(info, "s3")
        key = lam.get_function(FunctionName=functions[0]["FunctionName"])["Code"]["Location"].rsplit("/", 1)[1]
        for bucket in (b["Name"] for b in s3.list_buckets()["Buckets"] if b["Name"].startswith("cdk-")):
            objects = s3.list_objects_v2(Bucket=bucket, Prefix=key).get("Contents", [])
            if any(o["Key"] == key for o in objects):
                body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
                return body, f"s3://{bucket}/{key} (the published CDK asset)"
    except Exception as exc:  # any failure means: measure the source instead
        reason = f"{type(exc).__name__}: {exc}"
    else:
        reason = "asset object not found in a cdk- bucket"
    return _zip_functions(), f"zip of functions/ without __pycache__, *.pyc, dotfiles ({reason})"


def _zip_functions() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted((ROOT / "functions").rglob("*")):
            parts = path.relative_to(ROOT).parts
            if path.is_file() and "__pycache__" not in parts and path.suffix != ".pyc" \
                    and not any(p.startswith(".") for p in parts):
                archive.write(path, path.relative_to(ROOT).as_posix())
    return buffer.getvalue()


def _asset_summary(body: bytes, source: str, distinct_assets: int) -> dict[str, Any]:
    archive = zipfile.ZipFile(io.BytesIO(body))
    sources = [(i.filename, archive.read(i)) for i in archive.infolist() if i.filename.endswith(".py")]
    start = time.process_time()
    for name, text in sources:
        compile(text, name, "exec", dont_inherit=True)
    compile_ms = (time.process_time() - start) * 1000
    return {"asset_size_bytes": len(body), "asset_files": len(archive.infolist()),
            "asset_uncompressed_bytes": sum(i.file_size for i in archive.infolist()),
            "asset_source": source, "distinct_code_assets": distinct_assets,
            # The asset carries no .pyc and /var/task is read-only, so Lambda compiles the modules a
            # handler imports on every cold start: this is the upper bound (all of them, here).
            "asset_compile_ms": round(compile_ms, 1)}


# -- sample events ---------------------------------------------------------------------------


def _api_event(method: str, path: str, resource: str, *, api_id: str, stage: str, account: str,
               path_parameters: dict[str, str] | None = None,
               authorizer: dict[str, str] | None = None) -> dict[str, Any]:
    request_id = str(uuid.uuid4())
    headers = {"accept": "application/json", "host": f"{api_id}.execute-api.local", "user-agent": "bench-coldstart"}
    context: dict[str, Any] = {
        "accountId": account, "apiId": api_id, "stage": stage, "requestId": request_id,
        "extendedRequestId": request_id, "resourceId": "bench", "resourcePath": resource, "httpMethod": method,
        "path": f"/{stage}{path}", "protocol": "HTTP/1.1",
        "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
        "requestTimeEpoch": int(time.time() * 1000), "domainName": headers["host"],
        "identity": {"sourceIp": "127.0.0.1", "userAgent": "bench-coldstart", "apiKey": None, "apiKeyId": None},
    }
    if authorizer is not None:
        context["authorizer"] = authorizer
    return {"resource": resource, "path": path, "httpMethod": method, "headers": headers,
            "multiValueHeaders": {k: [v] for k, v in headers.items()}, "queryStringParameters": None,
            "multiValueQueryStringParameters": None, "pathParameters": path_parameters, "stageVariables": None,
            "requestContext": context, "body": None, "isBase64Encoded": False}


def _ddb(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return {"M": {k: _ddb(v) for k, v in value.items()}}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int):
        return {"N": str(value)}
    return {"S": str(value)}


def _stream_event(info: dict[str, Any], account: str, event_name: str, new: dict[str, Any],
                  old: dict[str, Any] | None) -> dict[str, Any]:
    change: dict[str, Any] = {
        "ApproximateCreationDateTime": int(time.time()), "Keys": {"PK": _ddb(new["PK"]), "SK": _ddb(new["SK"])},
        "NewImage": {k: _ddb(v) for k, v in new.items()}, "SequenceNumber": "111", "SizeBytes": 256,
        "StreamViewType": "NEW_AND_OLD_IMAGES"}
    if old is not None:
        change["OldImage"] = {k: _ddb(v) for k, v in old.items()}
    return {"Records": [{
        "eventID": uuid.uuid4().hex, "eventName": event_name, "eventVersion": "1.1", "eventSource": "aws:dynamodb",
        "awsRegion": info["region"], "dynamodb": change,
        "eventSourceARN": f"arn:aws:dynamodb:{info['region']}:{account}:table/{info['table_name']}"
                          "/stream/2026-11-23T00:00:00.000"}]}


def sample_events(info: dict[str, Any], account: str, api: tuple[str, str]) -> dict[str, tuple[dict[str, Any], str]]:
    """Handler module → (event, what it exercises). Realistic and valid for each trigger."""
    api_id, stage = api
    region = info["region"]
    machine = str((info.get("state_machines") or {}).get("order_fulfillment", f"arn:aws:states:{region}:{account}"
                                                          ":stateMachine:oms-local-order-fulfillment"))
    execution = machine.replace(":stateMachine:", ":express:") + f":{ORDER_ID}-bench:{uuid.uuid4()}"
    header = {"PK": f"ORDER#{ORDER_ID}", "SK": "ORDER", "order_id": ORDER_ID, "status": "CAPTURED",
              "summary": {"order_id": ORDER_ID, "status": "CAPTURED", "channel": "webshop"}}
    cancelled = {**header, "status": "CANCELLED"}

    def api_event(method: str, path: str, resource: str, *, path_parameters: dict[str, str] | None = None,
                  authorizer: dict[str, str] | None = None) -> dict[str, Any]:
        return _api_event(method, path, resource, api_id=api_id, stage=stage, account=account,
                          path_parameters=path_parameters, authorizer=authorizer)

    sqs_body = json.dumps({"orders": [{"idempotency_key": f"coldstart-{uuid.uuid4()}", "order": {}}]})
    return {
        "functions.access.handlers.authorizer": ({
            "type": "REQUEST",
            "methodArn": f"arn:aws:execute-api:{region}:{account}:{api_id}/{stage}/GET/orders",
            "resource": "/orders", "path": "/orders", "httpMethod": "GET",
            "headers": {"x-api-key": "local-agent-key", "accept": "application/json"},
            "multiValueHeaders": {"x-api-key": ["local-agent-key"], "accept": ["application/json"]},
            "queryStringParameters": None, "multiValueQueryStringParameters": None, "pathParameters": None,
            "stageVariables": None,
            "requestContext": api_event("GET", "/orders", "/orders")["requestContext"],
        }, "REQUEST x-api-key local-agent-key: GetItem of the key"),
        "functions.platform.handlers.api": (
            api_event("GET", "/health", "/health"), "GET /health (no AWS call)"),
        "functions.capture.handlers.api": (
            api_event("GET", f"/orders/{ORDER_ID}", "/orders/{order_id}", path_parameters={"order_id": ORDER_ID},
                      authorizer={"role": "agent", "principal_id": "agent", "principalId": "agent"}),
            "GET /orders/<id> as agent: Query of the order's items"),
        "functions.returns.handlers.api": (
            api_event("GET", f"/returns/{RETURN_ID}", "/returns/{proxy+}", path_parameters={"proxy": RETURN_ID},
                      authorizer={"role": "agent", "principal_id": "agent", "principalId": "agent"}),
            "GET /returns/<id> as agent: Query of its order's items (none: 404)"),
        "functions.capture.handlers.intake": ({"Records": [{
            "messageId": str(uuid.uuid4()), "receiptHandle": "bench", "body": sqs_body,
            "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": str(int(time.time() * 1000)),
                           "SenderId": account, "ApproximateFirstReceiveTimestamp": str(int(time.time() * 1000))},
            "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
            # a channel without a queue of its own: its DLQ does not exist, so the refused order's
            # dead letter is one real SendMessageBatch that fails and leaves nothing behind
            "eventSourceARN": f"arn:aws:sqs:{region}:{account}:oms-local-intake-coldstart-bench",
            "awsRegion": region}]},
            "SQS message with an empty order: refused, its dead letter sent to a DLQ that does not exist"),
        "functions.capture.handlers.stream": (
            _stream_event(info, account, "INSERT", header, None),
            "INSERT of an order header: StartExecution, PutEvents OrderCaptured"),
        "functions.allocate.handlers.api": (
            api_event("GET", "/inventory/SKU-X", "/inventory/{proxy+}", path_parameters={"proxy": "SKU-X"},
                      authorizer={"role": "agent", "principal_id": "agent", "principalId": "agent"}),
            "GET /inventory/SKU-X as agent: Query of the SKU's stock"),
        "functions.allocate.handlers.reserve": (
            {"order_id": ORDER_ID, "execution_id": execution,
             "allocations": [{"line_id": "L1", "sku": "SKU-X", "node_id": "DC-BERLIN", "quantity": 1}],
             "ship_to": {"name": "Ada Lovelace", "city": "Berlin", "country": "DE"}, "shipping_method": "standard"},
            "Reserve: TransactWriteItems cancelled by its conditions, then GetItem"),
        "functions.allocate.handlers.backorder": (
            {"order_id": ORDER_ID, "execution_id": execution, "reason": "NO_STOCK"},
            "Backorder: TransactWriteItems cancelled by its condition, then GetItem"),
        "functions.route.handlers.plan": ({"order_id": ORDER_ID}, "Plan: Query of the order (not plannable)"),
        "functions.route.handlers.api": (
            api_event("GET", "/shipments", "/shipments",
                      authorizer={"role": "node", "principal_id": "DC-BERLIN", "principalId": "DC-BERLIN"}),
            "GET /shipments as node DC-BERLIN: Query of GSI1"),
        "functions.notify.handlers.order_notice": (
            {"order_id": ORDER_ID, "kind": "order_confirmed"}, "Notify: Query of the order (none: no notice)"),
        "functions.notify.handlers.stream": (
            _stream_event(info, account, "MODIFY", cancelled, header),
            "MODIFY header → CANCELLED: Query of the order (none: no notice)"),
        "functions.invoice.handlers.invoice_shipment": (
            {"order_id": ORDER_ID, "shipment_id": SHIPMENT_ID},
            "InvoiceShipment: Query of the order (InvoiceRefused)"),
        "functions.invoice.handlers.flag": (
            {"order_id": ORDER_ID, "shipment_id": SHIPMENT_ID,
             "state": {"error": {"Error": "InvoiceRefused", "Cause": "bench"},
                       "invoice": {"invoice_number": "INV-1999-999999"}}},
            "FlagForFinance: TransactWriteItems cancelled (no such invoice): nothing flagged"),
        "functions.invoice.handlers.refund_receipt": (
            {"order_id": ORDER_ID, "return_id": RETURN_ID, "receipt_id": "R1"},
            "RefundReceipt: Query of the order (none: InvoiceRefused)"),
        "functions.invoice.handlers.refund_flag": (
            {"order_id": ORDER_ID, "return_id": RETURN_ID, "receipt_id": "R1",
             "state": {"error": {"Error": "InvoiceRefused", "Cause": "bench"}}},
            "FlagRefundForFinance: Query of the order (none: nothing flagged)"),
        "functions.capture.handlers.exchange": (
            {"order_id": ORDER_ID, "return_id": RETURN_ID, "receipt_id": "R1"},
            "CreateReplacement: Query of the order (none: NotFound)"),
        "functions.invoice.handlers.stream": (
            _stream_event(info, account, "MODIFY", cancelled, header),
            "MODIFY header → CANCELLED: Query of the order (InvoiceRefused: the batch fails)"),
        "functions.invoice.handlers.api": (
            api_event("GET", "/invoices/INV-1999-999999", "/invoices/{proxy+}",
                      path_parameters={"proxy": "INV-1999-999999"},
                      authorizer={"role": "finance", "principal_id": "finance", "principalId": "finance"}),
            "GET /invoices/<number> as finance: Query of GSI2 (none: 404)"),
        "functions.invoice.handlers.render_document": ({"Records": [{
            "messageId": str(uuid.uuid4()), "receiptHandle": "bench",
            "body": json.dumps({"order_id": ORDER_ID, "number": "INV-1999-999999"}),
            "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": str(int(time.time() * 1000)),
                           "SenderId": account, "ApproximateFirstReceiveTimestamp": str(int(time.time() * 1000))},
            "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
            "eventSourceARN": f"arn:aws:sqs:{region}:{account}:oms-local-documents", "awsRegion": region}]},
            "SQS message for a document of no order: the renderer loaded, Query of the order (none: dropped)"),
        "functions.reconcile.handlers.run": (
            {}, "the scheduled run: a Query of each open-orders shard (nothing due on a fresh stack)"),
    }


# -- runs ------------------------------------------------------------------------------------


def _lambda_env(fn: dict[str, Any], info: dict[str, Any], where: Layout) -> dict[str, str]:
    """What the Lambda service puts in a function's environment (python3.x managed runtime),
    with the local endpoint and dummy credentials. Nothing leaks from this process's env."""
    name = str(fn["FunctionName"])
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "TZ": ":UTC",
        "LAMBDA_TASK_ROOT": str(where.task_root), "LAMBDA_RUNTIME_DIR": str(where.task_root),
        "_HANDLER": str(fn.get("Handler", "")),
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{fn.get('Runtime', 'python3.13')}",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_FUNCTION_NAME": name, "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.get("MemorySize", MEMORY_MB_DEFAULT)),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": f"2026/11/23/[$LATEST]{uuid.uuid4().hex}",
        "AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "INFO",
        "AWS_REGION": info["region"], "AWS_DEFAULT_REGION": info["region"],
        "AWS_ENDPOINT_URL": info["aws_endpoint_url"],
        "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_SESSION_TOKEN": "local",
        # no shared config or credentials files in a sandbox
        "AWS_CONFIG_FILE": str(ROOT / ".nonexistent-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(ROOT / ".nonexistent-aws-credentials"),
        # active tracing: the X-Ray daemon address and this invocation's trace header
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR", "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
        "_AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1", "_AWS_XRAY_DAEMON_PORT": "2000",
        "_X_AMZN_TRACE_ID": f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};"
                            f"Parent={uuid.uuid4().hex[:16]};Sampled=1",
    }
    env.update({k: str(v) for k, v in ((fn.get("Environment") or {}).get("Variables") or {}).items()})
    return env


class Layout:
    """A deployed function's files on this machine: the code asset unpacked (the task root), the
    dependencies layer's ``python/`` (a host build of the locked requirements), and a directory
    for the bytecode the runs write (``-X pycache_prefix``: the layer in .cache/ stays as built)."""

    def __init__(self, task_root: Path, layer_python: Path, pycache: Path, asset_body: bytes, asset_source: str,
                 layer_distributions: int) -> None:
        self.task_root, self.layer_python, self.pycache = task_root, layer_python, pycache
        self.asset_body, self.asset_source, self.layer_distributions = asset_body, asset_source, layer_distributions

    @property
    def path(self) -> list[str]:
        return [str(self.task_root), str(self.layer_python)]

    def python(self) -> list[str]:
        return [*PYTHON, "-X", f"pycache_prefix={self.pycache}"]


@contextmanager
def layout(info: dict[str, Any], functions: list[dict[str, Any]]) -> Iterator[Layout]:
    """The deployed asset unpacked into a temporary task root, beside the host build of the layer."""
    from infra.dependencies import build_layer, host_target  # tooling; imports no CDK

    body, source = fetch_asset(info, functions)
    layer = build_layer(host_target())
    with tempfile.TemporaryDirectory(prefix="oms-coldstart-") as tmp:
        task_root = Path(tmp, "task")
        zipfile.ZipFile(io.BytesIO(body)).extractall(task_root)
        yield Layout(task_root, layer.python_dir, Path(tmp, "pycache"), body, source, len(layer.pins))


def _run(spec: dict[str, Any], env: dict[str, str], where: Layout) -> dict[str, Any]:
    start = _now_ns()
    proc = subprocess.run([*where.python(), "-c", CHILD,  # noqa: S603
                           json.dumps({**spec, "mark": MARK, "path": where.path})],
                          cwd=where.task_root, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
                          check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(MARK)]
    if not lines:
        tail = (proc.stderr or proc.stdout)[-1500:]
        return {"error": f"child exited {proc.returncode} without a result: {tail}"}
    r = json.loads(lines[-1][len(MARK):])

    (w0, _), (w1, c1), (w2, c2), (w3, c3) = r["t0"], r["t1"], r["t2"], r["t3"]

    def ms(a: int, b: int) -> float:
        return (b - a) / 1e6

    result = {"startup_ms": ms(start, w0), "import_ms": ms(w1, w2), "first_call_ms": ms(w2, w3),
              "total_ms": ms(start, w3), "cpu_import_ms": ms(c1, c2), "cpu_call_ms": ms(c2, c3),
              "cpu_total_ms": ms(0, c3), "error": r["error"], "outcome": r["outcome"],
              "modules": r["modules"]}
    if spec.get("snap_start"):
        # Lambda SnapStart: the init (the handler module's import) ran once when the version was
        # published, and a cold start restores its snapshot, then calls. So a cold start here is
        # the start-up and the first call; the import is reported as the snapshot's init. The
        # restore itself is not modelled, as no function's sandbox start is.
        result["snapshot_init_ms"], result["cpu_snapshot_init_ms"] = result["import_ms"], result["cpu_import_ms"]
        result["total_ms"] -= result["import_ms"]
        result["cpu_total_ms"] -= result["cpu_import_ms"]
        result["import_ms"] = result["cpu_import_ms"] = 0.0
    return result


def _bare(env: dict[str, str], where: Layout) -> tuple[float, float, float]:
    """Spawn → first statement of ``python -c``, its CPU time by then, and spawn → exit of
    ``python -c pass``, in ms (the same interpreter flags as the runs)."""
    start = _now_ns()
    out = subprocess.run([*where.python(), "-c", BARE], cwd=where.task_root, env=env,  # noqa: S603
                         capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=True).stdout
    wall, cpu = (int(v) for v in out.split())
    first = (wall - start) / 1e6
    start = _now_ns()
    subprocess.run([*where.python(), "-c", "pass"], cwd=where.task_root, env=env,  # noqa: S603
                   check=True, timeout=RUN_TIMEOUT_S)
    return first, cpu / 1e6, (_now_ns() - start) / 1e6


def _compile_ms(files: list[str]) -> float:
    sources = [(file, Path(file).read_bytes()) for file in files if file.endswith(".py")]
    best = float("inf")
    for _ in range(3):  # the fastest of three: this process competes with whatever else runs
        start = time.process_time()
        for file, source in sources:
            compile(source, file, "exec", dont_inherit=True)
        best = min(best, time.process_time() - start)
    return round(best * 1000, 1)


def _compile_cost(results: list[dict[str, Any]], where: Layout) -> dict[str, Any]:
    """What compiling the modules a handler imported costs: Lambda pays it on every cold start
    (neither the asset nor the layer has .pyc, and /var/task and /opt are read-only); here the
    warm-up's ``__pycache__`` hides it. Its own (``functions/``) and the layer's, apart."""
    files: list[str] = next((r["modules"] for r in results if r.get("modules")), [])
    own = [f for f in files if f.startswith(str(where.task_root))]
    layer = [f for f in files if f.startswith(str(where.layer_python))]
    return {"own_modules": len(own), "own_compile_ms": _compile_ms(own),
            "layer_modules": len(layer), "layer_compile_ms": _compile_ms(layer)}


def _median(runs: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in runs if key in r]
    return round(statistics.median(values), 1) if values else None


def measure(api_url: str, *, repeats: int = 5, warmup: bool = True,
            progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Cold start of every deployed function vs a fresh boto3 call, medians of ``repeats`` runs.

    ``warmup`` runs everything once first, unmeasured (page cache and ``__pycache__`` warm: the
    same for every function and the baseline).
    """
    if repeats < 1:
        raise ValueError("repeats must be >= 1")
    info = _info(api_url)
    functions = _functions(info)
    if not functions:
        raise RuntimeError(f"no Lambda functions deployed at {info['aws_endpoint_url']}")
    account = str(functions[0]["FunctionArn"]).split(":")[4]
    events = sample_events(info, account, _api(info))
    with layout(info, functions) as where:
        return _measure(api_url, info, functions, events, where, repeats=repeats, warmup=warmup, progress=progress)


def _measure(api_url: str, info: dict[str, Any], functions: list[dict[str, Any]],
             events: dict[str, tuple[dict[str, Any], str]], where: Layout, *, repeats: int, warmup: bool,
             progress: Callable[[str], None] | None) -> dict[str, Any]:
    base_fn = {"FunctionName": "bench-boto3-baseline", "Runtime": functions[0].get("Runtime"),
               "MemorySize": functions[0].get("MemorySize"), "Environment": functions[0].get("Environment")}
    jobs: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
        ("", {"mode": "boto3", "table_name": info["table_name"]}, base_fn)]
    notes: dict[str, str] = {}
    for fn in functions:
        name, handler = str(fn["FunctionName"]), str(fn["Handler"])
        event, note = events.get(handler.rpartition(".")[0], ({}, "NO SAMPLE EVENT for this handler: empty event"))
        notes[name] = note
        context = {"function_name": name, "invoked_function_arn": fn["FunctionArn"],
                   "memory_limit_in_mb": int(fn.get("MemorySize", MEMORY_MB_DEFAULT)),
                   "aws_request_id": str(uuid.uuid4()), "log_group_name": f"/aws/lambda/{name}",
                   "log_stream_name": "bench", "timeout_ms": int(fn.get("Timeout", 15)) * 1000}
        snap_start = (fn.get("SnapStart") or {}).get("ApplyOn") == "PublishedVersions"
        if snap_start:
            note = f"SnapStart: {note}"
        jobs.append((name, {"mode": "handler", "handler": handler, "event": event, "context": context,
                            "snap_start": snap_start}, fn))

    runs: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _ in jobs}
    bare: list[tuple[float, float, float]] = []
    bare_env = _lambda_env(base_fn, info, where)
    for round_no in range(-1 if warmup else 0, repeats):  # round-robin: drift hits everything alike
        if progress:
            progress("warm-up" if round_no < 0 else f"round {round_no + 1}/{repeats}")
        b = _bare(bare_env, where)
        for name, spec, fn in jobs:
            result = _run(spec, _lambda_env(fn, info, where), where)
            if round_no >= 0:
                runs[name].append(result)
        if round_no >= 0:
            bare.append(b)

    bare_ms = round(statistics.median(b[0] for b in bare), 1)
    bare_cpu_ms = round(statistics.median(b[1] for b in bare), 1)

    def summary(results: list[dict[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {k: _median(results, k) for k in ("startup_ms", "import_ms", "first_call_ms",
                                                                 "total_ms", "cpu_import_ms", "cpu_call_ms",
                                                                 "cpu_total_ms")}
        if any("snapshot_init_ms" in r for r in results):
            out["snapshot_init_ms"] = _median(results, "snapshot_init_ms")
        out["net_ms"] = round(out["total_ms"] - bare_ms, 1) if out["total_ms"] is not None else None
        totals = [r["total_ms"] for r in results if "total_ms" in r]
        out["total_ms_range"] = [round(min(totals), 1), round(max(totals), 1)] if totals else None
        errors = sorted({str(r["error"]) for r in results if r.get("error")})
        if errors:
            out["error"] = errors[0] if len(errors) == 1 else errors
        outcomes = sorted({str(r["outcome"]) for r in results if r.get("outcome")})
        if outcomes:
            out["outcome"] = outcomes[0]
        return out

    baseline = {**summary(runs[""]), **_compile_cost(runs[""], where)}
    if baseline.get("total_ms") is None:
        raise RuntimeError(f"the boto3 baseline failed: {baseline.get('error')}")
    handlers: dict[str, Any] = {}
    for fn in functions:
        name = str(fn["FunctionName"])
        row = {"handler": fn["Handler"], **summary(runs[name]), "sample_event": notes[name],
               **_compile_cost(runs[name], where)}
        if row["total_ms"] is not None:
            row["over_baseline"] = round(row["total_ms"] / baseline["total_ms"], 2)
            row["net_over_baseline"] = round(row["net_ms"] / baseline["net_ms"], 2)
            row["cpu_over_baseline"] = round(row["cpu_total_ms"] / baseline["cpu_total_ms"], 2)
        handlers[name] = row
    ratios = {n: h["over_baseline"] for n, h in handlers.items() if "over_baseline" in h}
    worst = max(ratios, key=lambda n: ratios[n]) if ratios else None
    return {
        "api_url": api_url, "aws_endpoint_url": info["aws_endpoint_url"], "repeats": repeats,
        "python": sys.version.split()[0], "platform": sys.platform,
        "bare_python_ms": bare_ms,
        "bare_python_cpu_ms": bare_cpu_ms,
        "bare_python_exit_ms": round(statistics.median(b[2] for b in bare), 1),
        "baseline_ms": baseline,
        "handlers": handlers,
        "max_cold_start_over_boto3": ratios[worst] if worst else None,
        "max_net_over_boto3": max((h["net_over_baseline"] for h in handlers.values() if "net_over_baseline" in h),
                                  default=None),
        "max_cpu_over_boto3": max((h["cpu_over_baseline"] for h in handlers.values() if "cpu_over_baseline" in h),
                                  default=None),
        "worst": worst,
        "layout": {"sys_path": [*where.path, "<the standard library>"], "interpreter_flags": " ".join(PYTHON[1:]),
                   "layer": f"host build of the locked requirements ({where.layer_distributions} distributions, "
                            "infra/dependencies.py)"},
        **_asset_summary(where.asset_body, where.asset_source, len({f.get("CodeSha256") for f in functions})),
    }


# -- CLI -------------------------------------------------------------------------------------


def table(result: dict[str, Any]) -> str:
    def f(value: Any) -> str:
        return "-" if value is None else f"{value:.0f}"

    def span(row: dict[str, Any]) -> str:
        r = row.get("total_ms_range")
        return f"{r[0]:.0f}–{r[1]:.0f}" if r else "-"

    def row(name: str, h: dict[str, Any], ratio: float, net: float, cpu: float, note: str) -> str:
        return (f"{name:31} {f(h['import_ms']):>6} {f(h['first_call_ms']):>5} {f(h['startup_ms']):>5} "
                f"{f(h['total_ms']):>6} {span(h):>10} {f(h['net_ms']):>6} {f(h['cpu_total_ms']):>5} "
                f"{ratio:>6.2f} {net:>5.2f} {cpu:>5.2f} {f(h.get('own_compile_ms')):>5} "
                f"{f(h.get('layer_compile_ms')):>5}  {note}")

    head = (f"{'function':31} {'import':>6} {'call':>5} {'start':>5} {'total':>6} {'min–max':>10} {'net':>6} "
            f"{'cpu':>5} {'×boto3':>6} {'net×':>5} {'cpu×':>5} {'+pyc':>5} {'+lib':>5}  note")
    lines = [head, "-" * len(head), row("boto3 baseline (describe_table)", result["baseline_ms"], 1, 1, 1, "")]
    for name, h in sorted(result["handlers"].items(), key=lambda kv: -(kv[1].get("over_baseline") or 0)):
        if h.get("total_ms") is None:
            lines.append(f"{name:31} failed: {h.get('error')}")
            continue
        flag = "> 2×  " if h["over_baseline"] > 2 else ""
        note = f"raises {h['error'].split(':')[0]}" if isinstance(h.get("error"), str) else (
            "errors" if h.get("error") else str(h.get("outcome", ""))[:40])
        if h.get("snapshot_init_ms") is not None:
            note = f"SnapStart (its {h['snapshot_init_ms']:.0f} ms init in the snapshot) {note}"
        lines.append(row(name, h, h["over_baseline"], h["net_over_baseline"], h["cpu_over_baseline"], flag + note))
    lines += [
        "",
        f"medians of {result['repeats']} runs, ms; Python {result['python']}; bare interpreter start-up "
        f"{result['bare_python_ms']} ms wall, {result['bare_python_cpu_ms']} ms CPU "
        f"(python -c pass to exit: {result['bare_python_exit_ms']} ms)",
        "total = spawn → end of the first call (min–max over the runs); net = total − bare start-up; "
        "cpu = the child's CPU time to the end of the call;",
        "×boto3 = total / baseline total; net× = net / baseline net; cpu× = cpu / baseline cpu "
        "(steadier than wall time on a busy machine); +pyc / +lib = compiling the functions/ / layer modules "
        "the handler imported, which Lambda adds where there is no .pyc (the asset; the layer unless built with "
        "a CPython 3.13) and this table does not include",
        f"layout: python {result['layout']['interpreter_flags']}, sys.path = "
        f"{' + '.join(result['layout']['sys_path'])}; the layer: {result['layout']['layer']}",
        f"worst: {result['worst']} at {result['max_cold_start_over_boto3']}× the boto3 cold start "
        f"(net {result['max_net_over_boto3']}×, max CPU {result['max_cpu_over_boto3']}×)",
        f"code asset: {result['asset_size_bytes']} bytes zipped, {result['asset_files']} files, "
        f"{result['asset_uncompressed_bytes']} bytes unzipped, {result['distinct_code_assets']} distinct asset(s) "
        f"— {result['asset_source']}; compiling all its .py: {result['asset_compile_ms']} ms",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="API URL of a running local stack (default: start one, as `python -m bench`)")
    parser.add_argument("--repeats", type=int, default=9, help="runs per function (median), default 9 as make bench")
    parser.add_argument("--no-warmup", action="store_true", help="skip the unmeasured first round")
    parser.add_argument("--json", help="also write the full result to this file")
    args = parser.parse_args(argv)

    def run(url: str) -> dict[str, Any]:
        return measure(url, repeats=args.repeats, warmup=not args.no_warmup,
                       progress=lambda msg: print(msg, file=sys.stderr, flush=True))

    if args.url:
        result = run(args.url)
    else:
        from localcloud.launcher import LocalStack

        with LocalStack() as stack:
            result = run(stack.url)
    print(table(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
