"""Powertools' event resolvers keep the request they serve per thread, not per process.

Powertools 3.37's ``ApiGatewayResolver.resolve`` stores the event being served, and the Lambda
context, on the *class* ``BaseRouter`` (``BaseRouter.current_event = …``), and every resolver
and router reads it back from there. On AWS that is one request per process (an execution
environment serves one invocation at a time). The local cloud runs every function in one
process — the invocations of one function one at a time, but different functions at the same
time — so two API functions serving requests at once (capture answering an agent's
``GET /orders/{id}``, route a node's ``GET /shipments``) read each other's event: the bench's
lifecycle run saw a node's request routed with the agent's authorizer context and refused
("role 'agent' may not GET this resource").

Each invocation runs in its caller's thread from start to end (``patches/lambda_runtime``), so
here the two attributes are kept per thread: a data descriptor on ``BaseRouter``'s metaclass
takes the class-level reads and writes, one in ``BaseRouter``'s namespace the reads and writes
through instances (a router delegates to its resolver, a resolver is a ``BaseRouter``).

The local cloud itself never imports Powertools (a function's cold start must pay for it, as
on AWS: ``tests/localcloud/test_deploy.py``), so ``install()`` only arms the patch; it is applied
by :func:`ensure`, which the Lambda runtime calls after it imported a handler and before it runs
it — the first handler to bring in Powertools' event handler applies it before any resolver runs.
"""

from __future__ import annotations

import sys
import threading
from abc import ABCMeta
from typing import Any

MODULE = "aws_lambda_powertools.event_handler.api_gateway"
ATTRIBUTES = ("current_event", "lambda_context")
_state = threading.local()
_saved: dict[str, Any] = {}
_lock = threading.Lock()
_armed = False


class _PerThread:
    """A data descriptor: the attribute's value for the calling thread."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, instance: Any, owner: Any = None) -> Any:
        try:
            return getattr(_state, self.name)
        except AttributeError:
            raise AttributeError(self.name) from None

    def __set__(self, instance: Any, value: Any) -> None:
        setattr(_state, self.name, value)


class _RouterMeta(ABCMeta):
    current_event = _PerThread("current_event")
    lambda_context = _PerThread("lambda_context")


def install() -> None:
    global _armed
    _armed = True
    ensure()


def ensure() -> None:
    """Apply the patch if it is armed and Powertools' event handler has been imported (cheap
    when it is applied already or not wanted)."""
    module = sys.modules.get(MODULE)
    if not _armed or module is None or type(module.BaseRouter) is _RouterMeta:
        return
    with _lock:
        router = module.BaseRouter
        if type(router) is _RouterMeta:
            return
        for name in ATTRIBUTES:
            if name in vars(router):
                _saved[name] = vars(router)[name]
        for name in ATTRIBUTES:  # while the metaclass is ABCMeta, a class assignment lands in its namespace
            setattr(router, name, _PerThread(name))
        router.__class__ = _RouterMeta  # same layout as ABCMeta: only adds the two descriptors


def uninstall() -> None:
    global _armed
    _armed = False
    module = sys.modules.get(MODULE)
    if module is None or type(module.BaseRouter) is not _RouterMeta:
        return
    router = module.BaseRouter
    router.__class__ = ABCMeta
    for name in ATTRIBUTES:
        if name in _saved:
            setattr(router, name, _saved.pop(name))
        elif name in vars(router):
            delattr(router, name)
