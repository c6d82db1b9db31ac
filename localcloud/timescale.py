"""One knob for how fast simulated time runs in the local cloud.

AWS waits are seconds to minutes (Step Functions Retry/Wait, an SQS visibility timeout before a
failed message is retried, a batching window). Locally those waits only make tests and the demo
slow, so every patch that waits multiplies the AWS duration by this factor instead of hard-coding
shorter timings. The default (``LOCALCLOUD_TIME_SCALE``, else 0.01) turns a 30 s visibility
timeout into 0.3 s; tests may lower it further.
"""

from __future__ import annotations

import os

_DEFAULT = 0.01
_scale = float(os.environ.get("LOCALCLOUD_TIME_SCALE", _DEFAULT))


def get() -> float:
    """The current factor (simulated seconds x factor = real seconds)."""
    return _scale


def set_scale(factor: float) -> None:
    """Change the factor for every later wait; 1.0 is real time."""
    global _scale
    if factor < 0:
        raise ValueError("time scale must be >= 0")
    _scale = factor


def seconds(aws_seconds: float) -> float:
    """Real seconds to wait for ``aws_seconds`` of simulated time."""
    return max(0.0, aws_seconds * _scale)
