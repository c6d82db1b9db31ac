"""One knob for how fast simulated time runs in the local cloud.

AWS waits are seconds to minutes (Step Functions Retry/Wait, an SQS visibility timeout before a
failed message is retried, a batching window). Locally those waits only make tests and the demo
slow, so every patch that waits multiplies the AWS duration by this factor instead of hard-coding
shorter timings. The factor is :func:`set_scale`'s, else ``LOCALCLOUD_TIME_SCALE`` read at each
wait (so setting it after import works), else 0.01: a 30 s visibility timeout becomes 0.3 s.
"""

from __future__ import annotations

import os

_DEFAULT = 0.01
_scale: float | None = None  # set_scale's factor; None = read LOCALCLOUD_TIME_SCALE


def set_scale(factor: float) -> None:
    """Change the factor for every later wait; 1.0 is real time."""
    global _scale
    if factor < 0:
        raise ValueError("time scale must be >= 0")
    _scale = factor


def seconds(aws_seconds: float) -> float:
    """Real seconds to wait for ``aws_seconds`` of simulated time."""
    scale = _scale if _scale is not None else float(os.environ.get("LOCALCLOUD_TIME_SCALE", _DEFAULT))
    return max(0.0, aws_seconds * scale)
