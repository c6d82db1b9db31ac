"""In-process Lambda runtime (localcloud.patches.lambda_runtime)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from localcloud import INVOCATIONS
from localcloud.patches import lambda_runtime
from tests.localcloud.lambdas import probe
from tests.localcloud.support import create_function, invoke


def test_handler_runs_in_process_with_a_lambda_context(aws: None) -> None:
    # Given a function with a 7 s timeout and 256 MB
    create_function("ctx", timeout=7, memory=256)

    def describe(event: Any, context: Any) -> dict[str, Any]:
        return {
            "event": event,
            "function_name": context.function_name,
            "memory": context.memory_limit_in_mb,
            "arn": context.invoked_function_arn,
            "request_id": context.aws_request_id,
            "remaining": context.get_remaining_time_in_millis(),
        }

    probe.BEHAVIOURS["ctx"] = describe
    # When it is invoked (no Docker here: moto alone would fail)
    result, error = invoke("ctx", {"a": 1})
    # Then the handler saw the event and an AWS-like context
    assert error is None
    assert result["event"] == {"a": 1}
    assert result["function_name"] == "ctx"
    assert result["memory"] == 256
    assert result["arn"].endswith(":function:ctx")
    assert len(result["request_id"]) == 36
    assert 6000 < result["remaining"] <= 7000


def test_exception_becomes_the_aws_error_payload_with_unhandled(aws: None) -> None:
    # Given a handler that raises
    create_function("boom")

    def fail(event: Any, context: Any) -> None:
        raise ValueError("bad input")

    probe.BEHAVIOURS["boom"] = fail
    # When invoked
    result, error = invoke("boom", {})
    # Then the payload and header are what AWS returns for an unhandled exception
    assert error == "Unhandled"
    assert result["errorType"] == "ValueError"
    assert result["errorMessage"] == "bad input"
    assert any("probe.py" in line for line in result["stackTrace"])


def test_unimportable_handler_is_a_runtime_import_error(aws: None) -> None:
    create_function("missing", handler="tests.localcloud.lambdas.nope.lambda_handler")
    result, error = invoke("missing", {})
    assert error == "Unhandled"
    assert result["errorType"] == "Runtime.ImportModuleError"


def test_environment_is_applied_and_a_conflicting_value_fails_loudly(aws: None) -> None:
    # Given two functions that need different values for one variable
    create_function("first", environment={"LC_TEST_TABLE": "orders"})
    create_function("second", environment={"LC_TEST_TABLE": "other"})
    probe.BEHAVIOURS["first"] = lambda event, context: __import__("os").environ["LC_TEST_TABLE"]
    # When the first runs it sees its value
    assert invoke("first", {}) == ("orders", None)
    # Then the second cannot run in the same process
    result, error = invoke("second", {})
    assert error == "Unhandled"
    assert result["errorType"] == "LocalCloud.EnvironmentConflict"
    with pytest.raises(lambda_runtime.EnvironmentConflict):
        lambda_runtime.check_shared_environment([("a", {"X": "1"}), ("b", {"X": "2"})])


def test_two_invocations_are_in_flight_at_once(aws: None) -> None:
    # Given two functions whose handlers each wait for the other to have started
    create_function("left")
    create_function("right")
    both_started = threading.Barrier(2, timeout=5)

    def rendezvous(event: Any, context: Any) -> str:
        both_started.wait()  # raises BrokenBarrierError if the calls were serialised
        return context.function_name

    probe.BEHAVIOURS["left"] = probe.BEHAVIOURS["right"] = rendezvous
    INVOCATIONS.clear()
    results: dict[str, Any] = {}
    threads = [threading.Thread(target=lambda n=n: results.__setitem__(n, invoke(n, {}))) for n in ("left", "right")]
    # When both are invoked from two callers
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Then both met inside their handlers, and the log shows overlapping intervals
    assert results == {"left": ("left", None), "right": ("right", None)}
    left, right = (INVOCATIONS.snapshot(n)[0] for n in ("left", "right"))
    assert left.started < right.ended and right.started < left.ended


def test_invocations_of_one_function_never_share_its_module_state(aws: None) -> None:
    # Given a handler that keeps the current event in a module global while it works, as
    # Powertools' resolvers do with `app.current_event`
    create_function("resolver")
    current: dict[str, Any] = {}

    def remember(event: Any, context: Any) -> Any:
        current["event"] = event
        time.sleep(0.02)  # another invocation would overwrite it meanwhile
        return current["event"]

    probe.BEHAVIOURS["resolver"] = remember
    results: dict[int, Any] = {}
    threads = [threading.Thread(target=lambda n=n: results.__setitem__(n, invoke("resolver", {"n": n})))
               for n in range(8)]
    # When eight callers invoke it at once
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Then every caller gets the answer to its own event (one environment: one at a time)
    assert results == {n: ({"n": n}, None) for n in range(8)}
