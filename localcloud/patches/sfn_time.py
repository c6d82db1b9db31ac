"""Step Functions Retry intervals and Wait states run on scaled time locally.

moto 5.2.5's interpreter really sleeps: a Retry with ``IntervalSeconds: 1, BackoffRate: 2``
and four attempts blocks the execution ~15 s, a ``Wait`` of an hour blocks an hour. The ASL is
the production ASL, so instead of shortening it the waits are multiplied by
``localcloud.timescale`` (the regression test measures a 2 s Retry finishing in milliseconds).
"""

from __future__ import annotations

import time
import types

from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
from moto.stepfunctions.parser.asl.eval.environment import Environment

from localcloud import timescale


def _scaled_sleep(seconds: float) -> None:
    time.sleep(timescale.seconds(seconds))


def _wait_interval(self: WaitFunction, env: Environment, wait_seconds: int) -> None:
    # The event is set when the execution is stopped, which ends the wait early as on AWS.
    if wait_seconds > 0:
        env.program_state_event.wait(timescale.seconds(wait_seconds))


def install() -> None:
    # retrier_decl calls time.sleep(interval) through its module global ``time``.
    retrier_decl.time = types.SimpleNamespace(sleep=_scaled_sleep)  # type: ignore[assignment]
    WaitFunction._wait_interval = _wait_interval  # type: ignore[method-assign]
