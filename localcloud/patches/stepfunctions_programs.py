"""A state machine's definition is parsed once, not once per execution.

moto 5.2.5's executing backend (``ExecutionWorker._get_evaluation_entrypoint``) runs the ANTLR
parser and the preprocessor over the ASL definition at the start of every execution. For the
OMS's order workflow that is several milliseconds of pure-Python work per order, and on the
local stack it ran on the one interpreter every function shares: about 8 % of the local cloud's
CPU during the bench's cost run (py-spy, 2026-12-02), time every concurrent invocation waited
for. On AWS a definition is compiled once, at create or update.

Here the evaluation program is kept per definition text (a changed definition is a new key) and
shared by the executions that use it. That is safe because a program holds no execution's state:
every value an evaluation produces lives in that execution's ``Environment`` (its stack, heap,
context and event history); the components only keep their declarations. The one lazily set
attribute, each component's ``heap_key`` (a uid under which it keeps values in the heap), is set
on every component before the program is shared, so two executions starting together never
mint two keys for one component.
"""

from __future__ import annotations

import threading
from typing import Any

from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

_ORIGINAL = ExecutionWorker._get_evaluation_entrypoint
_programs: dict[str, EvalComponent] = {}
_lock = threading.Lock()
MAX_PROGRAMS = 256  # definitions kept (a stack has a handful; tests create many)


def _warm(component: Any, seen: set[int]) -> None:
    """Touch ``heap_key`` on every component reachable from ``component``."""
    if id(component) in seen:
        return
    seen.add(id(component))
    if isinstance(component, EvalComponent):
        component.heap_key  # noqa: B018 - sets the key once, before sharing
    values: Any = ()
    if isinstance(component, dict):
        values = component.values()
    elif isinstance(component, list | tuple | set | frozenset):
        values = component
    elif hasattr(component, "__dict__") and type(component).__module__.startswith("moto.stepfunctions"):
        values = vars(component).values()
    for value in values:
        _warm(value, seen)


def _get_evaluation_entrypoint(self: ExecutionWorker) -> EvalComponent:
    definition = self._evaluation_details.state_machine_details.definition
    program = _programs.get(definition)
    if program is not None:
        return program
    with _lock:  # the first executions of a definition, started together, parse it once
        program = _programs.get(definition)
        if program is None:
            program = _ORIGINAL(self)
            _warm(program, set())
            if len(_programs) >= MAX_PROGRAMS:
                _programs.clear()
            _programs[definition] = program
        return program


def install() -> None:
    ExecutionWorker._get_evaluation_entrypoint = _get_evaluation_entrypoint  # type: ignore[method-assign]


def uninstall() -> None:
    ExecutionWorker._get_evaluation_entrypoint = _ORIGINAL  # type: ignore[method-assign]
