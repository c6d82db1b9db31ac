"""The Lambda functions' code (the one code asset every function ships).

Cold start: in a Lambda sandbox (``LAMBDA_TASK_ROOT`` and ``AWS_LAMBDA_FUNCTION_NAME`` set, as
the runtime sets them before it imports the handler) the cyclic garbage collector is paused
while the handler module is imported. Everything an init allocates — modules, classes, the
SDK's and pydantic's tables — lives as long as the sandbox, so the collections the allocations
would trigger (a full one among them, scanning all of it) find next to nothing to free and cost
about a sixth of an API function's init (``make bench``, bench/coldstart.py). The entry points'
plumbing (``functions/core/handlers``: ``api_handler``, ``batch_handler``, ``task_handler``, and
the authorizer) calls :func:`init_done` when the handler is built, at the end of the import:
what the init allocated is moved to the collector's permanent generation (``gc.freeze``, which
no later collection scans) and the collector runs again from there, as usual. The few hundred
objects of cyclic garbage an init leaves behind stay frozen. Anywhere else (tests, the local
cloud's in-process runtime, ``oms``) nothing changes."""

from __future__ import annotations

import gc as _gc
import os as _os

_paused = bool(_os.environ.get("LAMBDA_TASK_ROOT") and _os.environ.get("AWS_LAMBDA_FUNCTION_NAME")) \
    and _gc.isenabled()
if _paused:
    _gc.disable()


def init_done() -> None:
    """The handler is built: freeze what the init allocated and let the collector run again
    (idempotent; nothing to do outside a Lambda sandbox)."""
    global _paused
    if _paused:
        _paused = False
        _gc.freeze()
        _gc.enable()
