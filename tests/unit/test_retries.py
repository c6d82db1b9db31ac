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
#: function timing out (Sandbox.Timedout; Lambda.Unknown on older runtimes), and our
#: TransientError (a throttle inside the function).
MUST_RETRY = {"Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException",
              "Lambda.TooManyRequestsException", "Lambda.Unknown", "Sandbox.Timedout", "TransientError"}
#: An Express workflow runs at most 5 minutes; its retries must leave a margin.
EXPRESS_LIMIT_S = 300


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


def test_a_throttled_secret_read_is_transient_through_powertools_wrapping(monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3
    from aws_lambda_powertools.utilities.parameters import SecretsProvider
    from botocore.stub import Stubber

    secrets = boto3.client("secretsmanager", region_name="eu-central-1", aws_access_key_id="unit",
                           aws_secret_access_key="unit")
    monkeypatch.setattr(aws, "_secrets", lambda *_: SecretsProvider(boto3_client=secrets))
    with Stubber(secrets) as stubber:
        stubber.add_client_error("get_secret_value", service_error_code="ThrottlingException",
                                 service_message="Rate exceeded", http_status_code=400)
        with pytest.raises(TransientError):
            aws.secret("oms-unit/paging-key", max_age=60)
        stubber.add_client_error("get_secret_value", service_error_code="ResourceNotFoundException",
                                 service_message="no such secret", http_status_code=400)
        with pytest.raises(Exception, match="no such secret") as missing:  # a misconfiguration: as it came
            aws.secret("oms-unit/other", max_age=60)
        assert not isinstance(missing.value, TransientError)


def _task_worst_seconds(state: dict[str, Any], attempt_s: float) -> float:
    """Every attempt running into the function's timeout, every retry waiting its longest."""
    total = attempt_s
    for rule in state.get("Retry", []):
        interval, rate = rule.get("IntervalSeconds", 1), rule.get("BackoffRate", 2.0)
        for n in range(rule.get("MaxAttempts", 3)):
            total += attempt_s + interval * rate ** n
    return total


def _wait_seconds(state: dict[str, Any]) -> int:
    """A Wait state's fixed wait (a computed one could not be bounded from the ASL: none is used)."""
    assert "Seconds" in state, "a Wait state waits a fixed number of seconds"
    return int(state["Seconds"])


def _longest_path(states: dict[str, Any], name: str, attempt_s: float, seen: frozenset[str]) -> float:
    state = states[name]
    here = (_task_worst_seconds(state, attempt_s) if state["Type"] == "Task"
            else float(_wait_seconds(state)) if state["Type"] == "Wait" else 0.0)
    nexts = {state.get("Next"), state.get("Default"), *(c.get("Next") for c in state.get("Choices", [])),
             *(c.get("Next") for c in state.get("Catch", []))} - {None}
    further = [_longest_path(states, n, attempt_s, seen | {n}) for n in nexts if n not in seen]
    return here + max(further, default=0.0)


@pytest.mark.parametrize("asl", sorted((ROOT / "statemachines").glob("*.asl.json")), ids=lambda p: p.stem)
def test_no_path_through_a_workflow_can_outlast_the_express_limit_by_retrying(asl: Path) -> None:
    """The longest path that visits no state twice (the StockMoved re-plan loop is bounded by its
    count, and a brownout that long is the reconciler's), each attempt taking the whole function
    timeout: still inside Express's 5 minutes."""
    from infra.config import CONFIGS

    definition = json.loads(asl.read_text())
    attempt_s = max(c.timeout.to_seconds() for c in CONFIGS.values())
    worst = _longest_path(definition["States"], definition["StartAt"], attempt_s, frozenset({definition["StartAt"]}))
    assert worst <= 0.9 * EXPRESS_LIMIT_S, worst


def test_lost_races_back_off_and_their_waits_still_fit_the_express_limit() -> None:
    """The StockMoved loop (a lost reservation race, not a brownout) plans again at once, then
    after Wait states that grow; every wait of the loop taken, on top of the longest acyclic
    path (which counts one of them), still fits Express's 5 minutes with a margin."""
    from infra.config import CONFIGS

    definition = json.loads((ROOT / "statemachines" / "order_fulfillment.asl.json").read_text())
    states = definition["States"]
    waits = [_wait_seconds(s) for s in states.values() if s["Type"] == "Wait"]
    assert waits == sorted(waits) and len(set(waits)) == len(waits) >= 3, waits  # a growing backoff
    assert all(states[s]["Next"] == "Plan" for s, v in states.items() if v["Type"] == "Wait")
    attempt_s = max(c.timeout.to_seconds() for c in CONFIGS.values())
    worst = _longest_path(states, definition["StartAt"], attempt_s, frozenset({definition["StartAt"]}))
    assert worst + sum(waits) - max(waits) <= 0.9 * EXPRESS_LIMIT_S, (worst, waits)
