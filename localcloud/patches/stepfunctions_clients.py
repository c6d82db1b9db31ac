"""The workflow engine reuses its AWS clients and its parsed JSONPaths.

moto 5.2.5's Step Functions interpreter does two pieces of set-up work on every use that AWS's
service does once:

- ``boto_client_for`` makes a new boto3 client for every service integration a state calls
  (each ``lambda:invoke`` of a Task, each ``states:startExecution``, ``events:putEvents``…).
  Making a client loads and wires the service model, several milliseconds of pure-Python work:
  7 % of the local cloud's busy time during the bench's cost run (py-spy, 2026-12-03).
- ``extract_json`` and ``ResultPath`` run jsonpath-ng's (PLY) parser over the same path text,
  ``$.order_id`` or ``$.result``, each time a state reads or writes its input: 5 %.

That work ran on the one interpreter every local function shares, so the functions running at
the same time were billed for it as duration. Here a client is kept per (boto3 session, region,
service, endpoint) — botocore clients are thread-safe, and they carry the session's event hooks
(the meter's and the fault injector's, registered when the local cloud starts, before the
first client) — and a parsed path is kept per path text: a parsed jsonpath-ng expression is not
changed by ``find`` or ``update_or_create`` (they change the data they are given), so one object
serves every execution and thread.
"""

from __future__ import annotations

import functools
import sys
import threading
from typing import Any

import boto3
from botocore.client import BaseClient
from moto.stepfunctions.parser.asl.component.common.path import result_path
from moto.stepfunctions.parser.asl.utils import boto_client, json_path

_ORIGINAL_CLIENT = boto_client.boto_client_for
_ORIGINAL_PARSE = json_path.parse  # jsonpath_ng.ext.parse (filters and arithmetic)
_ORIGINAL_RESULT_PARSE = result_path.parse  # jsonpath_ng.parse
_clients: dict[tuple[int, str, str, str | None], BaseClient] = {}
_lock = threading.Lock()
PREFIX = "moto.stepfunctions."


def boto_client_for(region: str, service: str, state_credentials: Any = None) -> BaseClient:
    """The interpreter's client for ``service`` in ``region``, made once (moto ignores
    ``state_credentials`` too: the local cloud has one account)."""
    from moto.core.models import botocore_stubber
    from moto.settings import moto_server_port

    endpoint = None if botocore_stubber.enabled else f"http://localhost:{moto_server_port()}"
    key = (id(boto3.DEFAULT_SESSION), region, service, endpoint)
    client = _clients.get(key)
    if client is None:
        with _lock:
            client = _clients.get(key)
            if client is None:
                client = _clients[key] = _ORIGINAL_CLIENT(region, service, state_credentials)
    return client


parse = functools.lru_cache(maxsize=1024)(_ORIGINAL_PARSE)
result_parse = functools.lru_cache(maxsize=1024)(_ORIGINAL_RESULT_PARSE)


def _rebind(original: Any, replacement: Any) -> None:
    """Point every loaded moto Step Functions module that imported ``original`` by name at
    ``replacement`` (modules loaded later import the patched name from its home module)."""
    for name, module in list(sys.modules.items()):
        if not name.startswith(PREFIX) or module is None:
            continue
        for attribute, value in list(vars(module).items()):
            if value is original:
                setattr(module, attribute, replacement)


def install() -> None:
    _rebind(_ORIGINAL_CLIENT, boto_client_for)
    boto_client.boto_client_for = boto_client_for  # type: ignore[assignment]
    json_path.parse = parse
    result_path.parse = result_parse  # type: ignore[attr-defined]


def uninstall() -> None:
    _rebind(boto_client_for, _ORIGINAL_CLIENT)
    boto_client.boto_client_for = _ORIGINAL_CLIENT
    json_path.parse = _ORIGINAL_PARSE
    result_path.parse = _ORIGINAL_RESULT_PARSE  # type: ignore[attr-defined]
    with _lock:
        _clients.clear()
    parse.cache_clear()
    result_parse.cache_clear()

