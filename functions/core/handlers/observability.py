"""One Logger and Metrics for every function (service name from the environment).

Entry points get both in one fixed order, outermost first (``logger.inject_lambda_context``,
``metrics.log_metrics``), from ``api_handler`` (http.py) and ``task_handler`` / ``batch_handler``
(entrypoints.py); handlers only add their business metrics.

Tracing is Lambda's active tracing (``Tracing.ACTIVE`` on every function, and on the API
stage and the state machines): each invocation's segment, linked to the API Gateway and
Step Functions traces, with no SDK in the function. The X-Ray SDK behind Powertools' Tracer
is in maintenance since 2026-02-25 and out of support on 2027-02-25 (AWS recommends
OpenTelemetry), and its recorder creates two botocore clients when it is imported — about
100 ms of every cold start, measured by ``make bench`` (bench/coldstart.py). Spans per AWS
call, where an environment wants them, come from the ADOT (OpenTelemetry) Lambda layer,
which needs no code here.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger()
metrics = Metrics()

__all__ = ["MetricUnit", "logger", "metrics"]
