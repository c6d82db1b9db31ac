"""The fault-injection proof (issue 11): for every AWS call a journey makes, and every way it
can fail, the order still ends right, with nothing lost and nothing doubled.

The fault points are not a hand list: each journey is run once cleanly with the meter reset
(``/_local/requests``), and every (function, AWS call) the meter saw it make is a point. Each
point × kind (``throttle``, ``timeout``, ``lost``; ``localcloud/faults.py``) is then run as a
fresh journey whose fault fails that call once — past the client's own retries, so the
function meets it — scoped to the journey's own SKU, customer and key, many journeys at once
on the one stack. At the end of each: one order, in its final status; the stock record's
reservation back to 0 and on hand less what shipped; one invoice per dispatched shipment; one
payment capture; and each notice the clean run sent, sent once — at most twice where the fault
lost the answer of the send itself (SES and SNS take no idempotency key: docs/ARCHITECTURE.md,
"Notices").
"""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from localcloud.client import Api, ok
from tests.e2e.faults.scenarios import SCENARIOS, Run, notices_sent, outcome

pytestmark = [pytest.mark.faults, pytest.mark.e2e]

KINDS = ("throttle", "timeout", "lost")
#: The calls whose answer, when lost, may make a notice go out twice (no idempotency key).
SENDS = {"email.SendEmail", "sns.Publish"}
#: How long a journey's step waits for the order (the workflows' retries back off on the local
#: time scale; a step that met a fault is waited for longer than a clean one).
WAIT_S = 40.0
WORKERS = 6


def _journey(api: Api, scenario: str, fault: dict[str, Any] | None = None) -> tuple[Run, list[str], Counter[str]]:
    run = Run(scenario)
    fault_id = None
    if fault is not None:
        # the authorizer's calls name only the API key's hash, which every journey shares: its
        # fault fails whichever journey's call comes first (all of them are checked)
        scope = [] if "authorizer" in fault["caller"] else run.match
        added = ok(api.http.post("/_local/faults", json={**fault, "match": scope}), "add fault")
        fault_id = added["faults"][0]["id"]
    fired = None
    try:
        SCENARIOS[scenario](api, run, WAIT_S)
        problems: list[str] = []
    except AssertionError as exc:  # Stuck, ApiError
        problems = [f"journey: {exc}"]
    finally:
        if fault_id:
            fired = api.http.delete("/_local/faults", params={"id": fault_id})
    if fault_id and fired is not None:
        run.fired = next((f["fired"] for f in ok(fired, "lift")["faults"] if f["id"] == fault_id), 0)
    api.wait_idle(30)
    return run, problems + outcome(api, run), notices_sent(api, run) if run.order_id else Counter()


@pytest.fixture(scope="module")
def api(stack: str) -> Any:
    with Api(stack, timeout=60, connections=16) as client:
        yield client


@pytest.fixture(scope="module")
def clean_runs(api: Api) -> dict[str, tuple[list[tuple[str, str]], Counter[str]]]:
    """Each journey once, cleanly: the calls it makes (the fault points) and the notices it sends."""
    found: dict[str, tuple[list[tuple[str, str]], Counter[str]]] = {}
    for scenario in SCENARIOS:
        api.settle(60)
        api.reset_meter()
        _, problems, sent = _journey(api, scenario)
        assert not problems, f"clean {scenario}: {problems}"
        api.settle(60)
        by_caller = api.meter()["aws_calls"]["by_caller"]
        points = sorted((caller, call) for caller, calls in by_caller.items() if caller != "states" for call in calls)
        found[scenario] = (points, sent)
    return found


@pytest.mark.timeout(900)
def test_every_call_of_every_journey_fails_once_in_every_way_and_the_order_still_ends_right(
        api: Api, clean_runs: dict[str, tuple[list[tuple[str, str]], Counter[str]]]) -> None:
    cases = [(scenario, {"caller": caller, "call": call, "kind": kind, "mode": "once"})
             for scenario, (points, _) in clean_runs.items() for caller, call in points for kind in KINDS]
    assert len(cases) >= 60, f"only {len(cases)} fault cases: the meter saw too few calls"
    started = time.monotonic()
    with ThreadPoolExecutor(WORKERS) as pool:
        results = list(pool.map(lambda case: (case, _journey(api, case[0], case[1])), cases))
    failures = []
    for (scenario, fault), (run, problems, sent) in results:
        expected = clean_runs[scenario][1]
        allowed = 2 if fault["kind"] == "lost" and fault["call"] in SENDS else 1
        for notice in expected:
            if not 1 <= sent[notice] <= allowed:
                problems.append(f"notice {notice} sent {sent[notice]} times")
        problems += [f"notice {n} not sent cleanly" for n in sent if n not in expected]
        if problems:
            failures.append(f"{scenario} {fault['caller']} {fault['call']} {fault['kind']}: {run.order_id} {problems}")
    unfired = [f"{s} {f['caller']} {f['call']} {f['kind']}" for (s, f), (run, _, _) in results if not run.fired]
    summary = (f"{len(results)} cases in {time.monotonic() - started:.0f} s; "
               f"{len(unfired)} faults never fired: {unfired}")
    print(summary)
    assert not failures, summary + "\n" + "\n".join(failures)
    assert len(unfired) <= len(results) // 10, summary
