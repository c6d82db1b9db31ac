"""One Logger, Tracer and Metrics for every function (service name from the environment).

Handlers decorate in one fixed order, outermost first: ``logger.inject_lambda_context``,
``metrics.log_metrics``, ``tracer.capture_lambda_handler``.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger()
# Only botocore (every AWS call) is traced: by default the Tracer patches every library X-Ray
# supports that it can import (httpx, requests, ...), which costs cold-start time for nothing.
tracer = Tracer(patch_modules=("botocore",))
metrics = Metrics()

__all__ = ["MetricUnit", "logger", "metrics", "tracer"]
