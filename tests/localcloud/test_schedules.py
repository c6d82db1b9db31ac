"""EventBridge Scheduler locally: moto alone skips ``AWS::Scheduler::Schedule`` in CloudFormation
(so the deploy would refuse the stack) and fires no schedule; ``patches/cloudformation_models``
creates it in moto's scheduler backend and ``localcloud/schedules.py`` fires it on the local time
scale and on demand (``POST /_local/schedules/{name}/run``)."""

from __future__ import annotations

import json
import time

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from localcloud import schedules
from localcloud.deploy import deploy_template
from localcloud.frontdoor import _local_routes
from tests.localcloud.lambdas import probe
from tests.localcloud.support import ROLE, client, create_function

pytestmark = pytest.mark.timeout(60)


def _template(function_arn: str, expression: str = "rate(1 minute)") -> dict[str, object]:
    return {"Resources": {"Schedule": {"Type": "AWS::Scheduler::Schedule", "Properties": {
        "Name": "oms-test-reconcile", "ScheduleExpression": expression, "State": "ENABLED",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "Target": {"Arn": function_arn, "RoleArn": ROLE, "Input": json.dumps({"from": "schedule"})}}}}}


def _post(path: str) -> Request:
    return Request(EnvironBuilder(path=path, method="POST").get_environ())


def test_a_schedule_is_deployed_and_fires_on_the_local_time_scale(aws: None) -> None:
    # Given a stack with a schedule every minute on a function (0.06 s at the tests' scale 0.001)
    arn = create_function("reconciler")
    deployment = deploy_template(_template(arn), "scheduled")
    # Then the schedule exists as Scheduler shows it
    found = client("scheduler").get_schedule(Name="oms-test-reconcile")
    assert found["ScheduleExpression"] == "rate(1 minute)" and found["Target"]["Arn"] == arn
    assert deployment.physical_ids["Schedule"] == "oms-test-reconcile"
    # When the schedules run, the function is invoked with the target's input, again and again
    schedules.start()
    try:
        deadline = time.monotonic() + 10
        while len(probe.calls("reconciler")) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        schedules.stop()
    calls = probe.calls("reconciler")
    assert len(calls) >= 2 and calls[0] == {"from": "schedule"}
    # and after stop() it fires no more
    time.sleep(0.2)
    assert len(probe.calls("reconciler")) == len(calls)


def test_a_schedule_runs_on_demand_by_its_name(aws: None) -> None:
    arn = create_function("on-demand")
    probe.BEHAVIOURS["on-demand"] = lambda event, context: {"ran": event}
    deploy_template(_template(arn, "rate(1 day)"), "on-demand")
    route = _local_routes["schedules/*"]
    # by its short name (the stack's prefix left out) or its full name: run now, its result answered
    for name in ("reconcile", "oms-test-reconcile"):
        response = route(_post(f"/_local/schedules/{name}/run"), None)  # type: ignore[arg-type]
        body = json.loads(response.get_data())
        assert response.status_code == 200 and body["result"] == {"ran": {"from": "schedule"}}
        assert body["schedule"] == "oms-test-reconcile" and body["function_error"] is False
    assert len(probe.calls("on-demand")) == 2
    missing = route(_post("/_local/schedules/nothing/run"), None)  # type: ignore[arg-type]
    assert missing.status_code == 404 and "oms-test-reconcile" in missing.get_data(as_text=True)


def test_rate_expressions() -> None:
    assert schedules.rate_seconds("rate(5 minutes)") == 300
    assert schedules.rate_seconds("rate(1 day)") == 86400
    assert schedules.rate_seconds("cron(0 12 * * ? *)") is None
