"""Retries that fit (issue 11): a brownout surfaces as an error something retries — never as a
raw ClientError that ends a workflow, a 500, or a function cut off by its own timeout."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from functions.core.adapters import aws
from functions.core.errors import TransientError, as_transient
from functions.core.handlers.entrypoints import task_handler

ROOT = Path(__file__).resolve().parents[2]
#: What a Lambda task of any workflow must retry: the service's own faults and throttles, the
#: function timing out (Sandbox.Timedout; Lambda.Unknown on older runtimes; States.Timeout for a
#: task timeout), and our TransientError (a throttle inside the function).
MUST_RETRY = {"Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException",
              "Lambda.TooManyRequestsException", "Lambda.Unknown", "Sandbox.Timedout", "States.Timeout",
              "TransientError"}


def throttle(code: str = "ProvisionedThroughputExceededException") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "Rate of requests exceeds the allowed throughput"}},
                       "TransactWriteItems")


@pytest.mark.timeout(30)
def test_the_client_gives_up_well_inside_the_smallest_function_timeout() -> None:
    from infra.config import CONFIGS

    smallest = min(c.timeout.to_seconds() for c in CONFIGS.values())
    assert aws.worst_case_seconds() <= 0.8 * smallest, (aws.worst_case_seconds(), smallest)
    config = aws._CONFIG
    assert (config.retries, config.connect_timeout, config.read_timeout) == (
        {"mode": "standard", "total_max_attempts": aws.MAX_ATTEMPTS}, aws.CONNECT_TIMEOUT_S, aws.READ_TIMEOUT_S)


def test_throttles_and_lost_answers_are_transient_and_refusals_are_not() -> None:
    for code in ("ProvisionedThroughputExceededException", "ThrottlingException", "Throttling",
                 "TooManyRequestsException", "RequestLimitExceeded", "InternalServerError"):
        assert isinstance(as_transient(throttle(code)), TransientError), code
    assert as_transient(EndpointConnectionError(endpoint_url="http://x")) is not None
    cancelled = ClientError({"Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
                             "CancellationReasons": [{"Code": "None"}, {"Code": "TransactionConflict"}]},
                            "TransactWriteItems")
    assert as_transient(cancelled) is not None
    refused = ClientError({"Error": {"Code": "ConditionalCheckFailedException", "Message": "no"}}, "PutItem")
    assert as_transient(refused) is None and as_transient(ValueError("bad")) is None
    assert as_transient(TransientError("already")) is None  # raised as it is


class Context:
    function_name, memory_limit_in_mb, aws_request_id = "plan", 512, "r"
    invoked_function_arn = "arn:aws:lambda:eu-central-1:123456789012:function:plan"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def test_a_task_meeting_a_raw_throttle_raises_the_name_its_workflow_retries() -> None:
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Input:
        order_id: str

    @task_handler(Input)
    def throttled(event: Input, context: Any) -> dict[str, Any]:
        raise throttle()

    @task_handler(Input)
    def refused(event: Input, context: Any) -> dict[str, Any]:
        raise ValueError("a bug, not a brownout")

    with pytest.raises(TransientError) as raised:
        throttled({"order_id": "ord_1"}, Context())
    assert isinstance(raised.value.__cause__, ClientError)
    with pytest.raises(ValueError, match="a bug"):
        refused({"order_id": "ord_1"}, Context())


@pytest.mark.parametrize("asl", sorted((ROOT / "statemachines").glob("*.asl.json")), ids=lambda p: p.stem)
def test_every_task_of_every_workflow_retries_timeouts_and_throttles(asl: Path) -> None:
    states = json.loads(asl.read_text())["States"]
    tasks = {name: state for name, state in states.items() if state["Type"] == "Task"}
    assert tasks
    for name, state in tasks.items():
        retried = {error for rule in state.get("Retry", []) for error in rule["ErrorEquals"]}
        assert retried >= MUST_RETRY, (name, MUST_RETRY - retried)


def test_an_api_function_answers_a_raw_throttle_503_not_500(monkeypatch: pytest.MonkeyPatch) -> None:
    from functions.capture import endpoints
    from tests.unit.test_http_errors import call

    monkeypatch.setenv("TABLE_NAME", "t")

    class Throttled:
        def get(self, order_id: str, principal: Any) -> None:
            raise throttle()

    monkeypatch.setattr(endpoints, "order_queries", lambda: Throttled())
    status, headers, body = call("GET", "/orders/ord_1", None)
    assert (status, headers.get("Retry-After"), body["type"]) == (503, "1", "urn:oms:problem:unavailable")
    assert "Provisioned" not in body["detail"]
