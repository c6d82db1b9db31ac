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

from functions.core.notices import inapplicable
from functions.core.orders import OrderStatus
from localcloud.client import KEYS, Api, ApiError, ok
from tests.e2e.faults.scenarios import SCENARIOS, Run, notices_sent, notices_skipped, outcome

pytestmark = [pytest.mark.faults, pytest.mark.e2e]

KINDS = ("throttle", "timeout", "lost")
#: The calls whose answer, when lost, may make a notice go out twice (no idempotency key).
SENDS = {"email.SendEmail", "sns.Publish"}
#: How long a journey's step waits for the order, and the end state for what must hold (the
#: workflows' and consumers' retries back off on the local time scale; a 2-core machine running
#: six journeys at once is slow).
WAIT_S = 45.0
WORKERS = 8

Case = tuple[str, dict[str, Any]]  # (scenario, fault)
Clean = dict[str, tuple[list[tuple[str, str]], Counter[str]]]


def _may_double(fault: dict[str, Any]) -> bool:
    """Whether the fault may make a notice go out twice (docs/ARCHITECTURE.md, "Notices"): a
    send whose answer was lost, or notify's record of a send failing every time it is written."""
    if fault["call"] in SENDS:
        return bool(fault["kind"] == "lost")
    return fault["mode"] == "persistent" and "notify" in fault["caller"] and fault["call"] == "dynamodb.UpdateItem"


def _problems(api: Api, run: Run, fault: dict[str, Any] | None, expected: Counter[str]) -> list[str]:
    """What is wrong with the run's end state and its notices: each notice the clean run sent,
    sent once, twice at most where the fault lost a send's own answer."""
    problems = outcome(api, run)
    if run.order_id is None:
        return problems
    sent = notices_sent(api, run)
    allowed = 2 if fault and _may_double(fault) else 1
    skipped = notices_skipped(api, run)
    status = OrderStatus(api.order(run.order_id)["status"])
    # a notice the order has moved past (a backorder notice once the stock came) is not owed
    # any more: skipped as superseded, or never sent at all — no loss
    problems += [f"notice {n} sent {sent[n]} times" for n in expected
                 if not (1 <= sent[n] <= allowed
                         or (sent[n] == 0 and (n.split(":")[0] in skipped or inapplicable(n.split(":")[0], status))))]
    return problems + [f"notice {n} that the clean run did not send" for n in sent if n not in expected]


def _settled(api: Api, run: Run, fault: dict[str, Any] | None, expected: Counter[str]) -> list[str]:
    """The run's problems once its asynchronous work is done: polled until none is left or
    ``WAIT_S`` is up (other journeys keep the stack busy, so it is never idle)."""
    deadline = time.monotonic() + WAIT_S
    while True:
        problems = _problems(api, run, fault, expected)
        if not problems or time.monotonic() > deadline:
            return problems
        time.sleep(1)


def _journey(api: Api, scenario: str, fault: dict[str, Any] | None = None, *, scoped: bool = True,
             expected: Counter[str] | None = None) -> tuple[Run, list[str]]:
    """Run one journey (with ``fault``, scoped to the journey's own calls unless not ``scoped``)
    and answer it with what is wrong at its end."""
    run = Run(scenario)
    fault_id = None
    if fault is not None:
        added = ok(api.http.post("/_local/faults", json={**fault, "match": run.match if scoped else []}), "add fault")
        fault_id = added["faults"][0]["id"]
    lifted = None
    try:
        SCENARIOS[scenario](api, run, WAIT_S)
        journey: list[str] = []
    except (AssertionError, ApiError) as exc:  # Stuck, or the API kept failing
        journey = [f"journey: {exc}"]
    finally:
        if fault_id:
            lifted = api.http.delete("/_local/faults", params={"id": fault_id})
    if fault_id and lifted is not None:
        run.fired = next((f["fired"] for f in ok(lifted, "lift")["faults"] if f["id"] == fault_id), 0)
    if expected is None:  # the clean run: its notices are what every faulted run must send
        return run, journey + outcome(api, run)
    return run, journey + _settled(api, run, fault, expected)


def _matrix(api: Api, cases: list[Case], clean: Clean, *, scoped: bool) -> list[tuple[Case, Run, list[str]]]:
    def one(case: Case) -> tuple[Case, Run, list[str]]:
        started = time.monotonic()
        run, problems = _journey(api, case[0], case[1], scoped=scoped, expected=clean[case[0]][1])
        print(f"case {time.monotonic() - started:6.1f} s  {_name(case)}", flush=True)
        return case, run, problems

    with ThreadPoolExecutor(WORKERS) as pool:
        return list(pool.map(one, cases))


def _points(clean: Clean) -> list[tuple[str, str, str]]:
    """Each distinct (function, call) the clean journeys made, in the first journey (of
    ``SCENARIOS``' order) that makes it: (journey, function, call)."""
    seen: set[tuple[str, str]] = set()
    points = []
    for scenario, (calls, _) in clean.items():
        for caller, call in calls:
            if (caller, call) not in seen:
                seen.add((caller, call))
                points.append((scenario, caller, call))
    return points


def _timeline(api: Api, run: Run) -> list[str]:
    """The failed run's order timeline as read when the rounds are over, briefly (time and event,
    a notice's kind), so that a rare failure on a loaded machine can be read from the CI log alone."""
    if not run.order_id:
        return []
    try:
        entries = api.order(run.order_id)["timeline"]
    except Exception as exc:  # the failures above must still be reported, whatever this meets
        return [f"unreadable: {exc!r}"]
    return [f"{e['at']} {e['event']}{' ' + e['detail']['kind'] if 'kind' in (e.get('detail') or {}) else ''}"
            for e in entries]


def _name(case: Case) -> str:
    return f"{case[0]} {case[1]['caller']} {case[1]['call']} {case[1]['kind']}"


@pytest.fixture(scope="module")
def api(stack: str) -> Any:
    with Api(stack, timeout=60, connections=16) as client:
        yield client


@pytest.fixture(scope="module")
def clean_runs(api: Api) -> Clean:
    """Each journey once, cleanly: the calls it makes (the fault points) and the notices it sends."""
    found: Clean = {}
    for scenario in SCENARIOS:
        api.settle(60)
        api.reset_meter()
        run, problems = _journey(api, scenario)
        assert not problems, f"clean {scenario}: {problems}"
        api.settle(60)
        by_caller = api.meter()["aws_calls"]["by_caller"]
        points = sorted((caller, call) for caller, calls in by_caller.items() if caller != "states" for call in calls)
        found[scenario] = (points, notices_sent(api, run))
    return found


@pytest.mark.timeout(900)
def test_every_call_of_every_journey_fails_once_in_every_way_and_the_order_still_ends_right(
        api: Api, clean_runs: Clean) -> None:
    cases: list[Case] = [(scenario, {"caller": caller, "call": call, "kind": kind, "mode": "once"})
                         for scenario, caller, call in _points(clean_runs) for kind in KINDS]
    assert len(cases) >= 90, f"only {len(cases)} fault cases: the meter saw too few calls"
    started = time.monotonic()
    results = _matrix(api, cases, clean_runs, scoped=True)
    # A call that names none of its journey's strings (the authorizer's key lookup, the node
    # network's read, …) is failed again unscoped: the first such call of any journey fails,
    # and every journey of that round is checked.
    unreached = [case for case, run, _ in results if not run.fired]
    retried = _matrix(api, unreached, clean_runs, scoped=False)
    never = [_name(case) for case, run, _ in retried if not run.fired]
    failures = [f"{_name(case)}: {run.order_id} {problems}\n    timeline: {_timeline(api, run)}"
                for case, run, problems in [*results, *retried] if problems]
    summary = (f"{len(cases)} cases ({len(cases) // len(KINDS)} points of {len(clean_runs)} journeys × "
               f"{len(KINDS)} kinds) in "
               f"{time.monotonic() - started:.0f} s; {len(unreached)} re-run unscoped; never fired: {never}")
    print(summary)
    assert not failures, summary + "\n" + "\n".join(failures)
    # a call a cache serves may not be made at all in a round (the authorizer's key lookup, Plan's
    # read of the node network): at most a tenth of the points may never fire
    assert len(never) <= len(cases) // 10, summary


#: How long a journey under a persistent fault is given before the fault is lifted: its retries
#: (client, workflow, stream) run out well within it on the local time scale.
STUCK_S = 20.0


def _stuck(api: Api, scenario: str, fault: dict[str, Any]) -> Run:
    """A journey whose call fails every time for ``STUCK_S`` (its retries — client, workflow,
    stream — run out well within it); then the fault is lifted."""
    run, started = Run(scenario), time.monotonic()
    added = ok(api.http.post("/_local/faults", json={**fault, "match": run.match}), "add fault")
    fault_id = added["faults"][0]["id"]
    try:
        SCENARIOS[scenario](api, run, STUCK_S)
    except (AssertionError, ApiError):
        pass  # stuck, as it may be: the fault never lets the call through
    finally:
        lifted = ok(api.http.delete("/_local/faults", params={"id": fault_id}), "lift")
    run.fired = next((f["fired"] for f in lifted["faults"] if f["id"] == fault_id), 0)
    print(f"lifted {time.monotonic() - started:6.1f} s  {scenario} {fault['caller']} {fault['call']} {fault['kind']}",
          flush=True)
    return run


def _recovered(api: Api, run: Run, fault: dict[str, Any], expected: Counter[str]) -> tuple[list[str], bool]:
    """After the reconciler's scheduled run: the journey's users carry on (the webshop places
    again with its key, the node dispatches) and the order must end right. What the schedule
    does not reach — a notice of an order already final (docs/ARCHITECTURE.md, "Notices") — an
    agent resumes (``POST /orders/{id}/resume``). Returns the problems left, and whether the
    agent was needed."""
    problems: list[str] = []
    try:
        SCENARIOS[run.scenario](api, run, WAIT_S)
    except (AssertionError, ApiError) as exc:
        problems.append(f"journey after the reconciler: {exc}")
    left = _settled(api, run, fault, expected)
    if not left and not problems:
        return [], False
    problems = []
    try:
        for _ in range(2):  # a step the resume started may itself wait for the next one
            problems += _resume(api, run)
            SCENARIOS[run.scenario](api, run, WAIT_S)
    except (AssertionError, ApiError) as exc:
        problems.append(f"journey after the resume: {exc}")
    # the clock is past every claim's lease (``_reconcile``): a notice whose sender died holding
    # its claim is owed again, and the resume has it sent
    return problems + _settled(api, run, fault, expected), True


def _reconcile(api: Api) -> list[dict[str, Any]]:
    """The local stack idle, the clock moved past the reconciler's threshold (15 minutes after
    capture) and every notice claim's lease (5 minutes), then the schedule run on demand —
    twice, as a step the first run started may leave the next one owed. The runs' reports."""
    reports = []
    api.settle(120)
    ok(api.http.post("/_local/clock", json={"advance": "PT20M"}), "move the clock")
    for _ in range(2):
        answer = ok(api.http.post("/_local/schedules/reconcile/run", timeout=120), "run the reconciler")
        assert not answer["function_error"], answer
        reports.append(answer["result"])
        api.settle(120)
    return reports


def _resume(api: Api, run: Run) -> list[str]:
    """An agent resumes the order (``POST /orders/{id}/resume``): what went wrong, if anything."""
    if not run.order_id:
        return []
    answer = api.http.post(f"/orders/{run.order_id}/resume", headers={"x-api-key": KEYS["agent"]})
    return [] if answer.status_code in (200, 202, 409) else [f"resume: {answer.status_code} {answer.text[:200]}"]


#: Journeys under a persistent fault at once: most of their time is spent waiting out the fault.
PERSISTENT_WORKERS = 12


@pytest.mark.timeout(900)
def test_every_call_failing_until_the_reconciler_runs_leaves_nothing_lost_or_doubled(
        api: Api, clean_runs: Clean) -> None:
    """Each distinct (function, call) of the journeys, failing in every way every time in the
    first journey that makes it: the order is stuck or carries on without that call's work.
    Once every fault is lifted, the reconciler's schedule runs (the clock past its threshold),
    the journeys' users carry on, and each order ends right — nothing lost, nothing doubled."""
    cases: list[Case] = [(scenario, {"caller": caller, "call": call, "kind": kind, "mode": "persistent"})
                         for scenario, caller, call in _points(clean_runs)
                         if "authorizer" not in caller  # its calls cannot be scoped to one journey
                         for kind in KINDS]
    started = time.monotonic()
    with ThreadPoolExecutor(PERSISTENT_WORKERS) as pool:
        runs = list(pool.map(lambda case: _stuck(api, case[0], case[1]), cases))
    try:
        reports = _reconcile(api)
        with ThreadPoolExecutor(PERSISTENT_WORKERS) as pool:
            results = list(pool.map(lambda pair: (pair[0], pair[1], *_recovered(
                api, pair[1], pair[0][1], clean_runs[pair[0][0]][1])), zip(cases, runs, strict=True)))
    finally:
        api.http.post("/_local/clock", json={"reset": True})
    failures = [f"{_name(case)}: {run.order_id} {problems}" for case, run, problems, _ in results if problems]
    never = [_name(case) for case, run, _, _ in results if not run.fired]
    agent = [_name(case) for case, _, _, needed in results if needed]
    summary = (f"{len(cases)} persistent cases in {time.monotonic() - started:.0f} s; the reconciler's runs: "
               f"{[{k: r[k] for k in ('due', 'resumed', 'waiting', 'closed', 'failed', 'steps')} for r in reports]}; "
               f"an agent's resume needed after them: {agent}; never fired: {never}")
    print(summary)
    assert not failures, summary + "\n" + "\n".join(failures)
    assert reports[0]["resumed"] > 0 and not any(r["failed"] for r in reports), summary
    # the schedule reaches everything but a notice of an order already final (docs/ARCHITECTURE.md,
    # "Notices"): an agent was needed only where notify's own calls failed
    assert all(" oms-local-notify-" in name for name in agent), summary
    # a call no journey string reaches (a cache's read, a shared lookup: about a fifth of them)
    # cannot be scoped, and the persistent cases have no unscoped round; and a backorder journey
    # whose restock waits behind other journeys' failing stream records (a shard delivers in
    # order) past its window never reaches its later calls — on a loaded machine a third of all
    # cases (37 of 102, 2026-12-02). At most half may never fire
    assert len(never) <= len(cases) // 2, summary
