"""boto3 clients built on first use and cached per service (never at import time)."""

from __future__ import annotations

from functools import cache
from typing import Any

from botocore.config import Config

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2, read_timeout=10)


@cache
def client(service: str) -> Any:
    import boto3  # deferred: a handler that never calls AWS never pays for boto3

    return boto3.client(service, config=_CONFIG)
