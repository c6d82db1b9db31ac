"""boto3 clients built on first use and cached (never at import time).

The cache is keyed by the endpoint and region in the environment as well as the service: in
Lambda those never change, but one local process may run several local clouds in turn (test
tiers), and a client must never keep talking to an endpoint that is gone.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from botocore.config import Config

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2, read_timeout=10)


def client(service: str) -> Any:
    return _client(service, os.environ.get("AWS_ENDPOINT_URL"), os.environ.get("AWS_DEFAULT_REGION"))


@cache
def _client(service: str, endpoint_url: str | None, region: str | None) -> Any:
    import boto3  # deferred: a handler that never calls AWS never pays for boto3

    return boto3.client(service, config=_CONFIG, endpoint_url=endpoint_url, region_name=region)
