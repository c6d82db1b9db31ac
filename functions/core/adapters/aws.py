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

from functions.core.errors import as_transient

#: The client's whole retry budget must end well inside the function's 15 s timeout, so that a
#: brownout surfaces as an error the workflow or the event source retries (TransientError,
#: core/errors.py), never as a timed-out function: 2 attempts of at most 1 s to connect and 4 s
#: to answer, plus standard mode's backoff (at most 1 s before a second attempt), is 11 s at
#: worst (tests/unit/test_aws_clients.py holds it to the smallest function timeout). Further
#: retries are the workflow's (with its own backoff), not the client's.
MAX_ATTEMPTS = 2
CONNECT_TIMEOUT_S = 1
READ_TIMEOUT_S = 4
#: standard mode's backoff before attempt n: up to min(2 ** (n - 2), 20) s (botocore's retry docs)
BACKOFF_CAP_S = 20


def worst_case_seconds(max_attempts: int = MAX_ATTEMPTS) -> float:
    """How long one call can take at most, every attempt timing out."""
    backoff = sum(min(2.0 ** (n - 2), BACKOFF_CAP_S) for n in range(2, max_attempts + 1))
    return float(max_attempts * (CONNECT_TIMEOUT_S + READ_TIMEOUT_S) + backoff)


# ``total_max_attempts`` counts the first attempt; botocore's ``max_attempts`` would not (it
# means retries: the old setting of 3 made 4 attempts of up to 12 s each).
_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS}, connect_timeout=CONNECT_TIMEOUT_S,
                 read_timeout=READ_TIMEOUT_S)


def client(service: str, *, attempts: int = MAX_ATTEMPTS) -> Any:
    """The cached client of ``service``. ``attempts=1``: botocore never repeats a call (a send
    that takes no idempotency key, whose lost answer a repeat would deliver twice: the caller
    decides whether to send again)."""
    return _client(service, os.environ.get("AWS_ENDPOINT_URL"), os.environ.get("AWS_DEFAULT_REGION"), attempts)


@cache
def _client(service: str, endpoint_url: str | None, region: str | None, attempts: int = MAX_ATTEMPTS) -> Any:
    import boto3  # deferred: a handler that never calls AWS never pays for boto3

    config = _CONFIG if attempts == MAX_ATTEMPTS else _CONFIG.merge(
        Config(retries={"mode": "standard", "total_max_attempts": attempts}))
    return boto3.client(service, config=config, endpoint_url=endpoint_url, region_name=region)


def secret(name: str, *, max_age: int) -> str | bytes:
    """The value of the Secrets Manager secret ``name``, through Powertools Parameters (cached
    ``max_age`` seconds per container), read with this module's client — its retry budget, not
    the default client's 60 s timeouts."""
    provider = _secrets(os.environ.get("AWS_ENDPOINT_URL"), os.environ.get("AWS_DEFAULT_REGION"))
    try:
        value: str | bytes = provider.get(name, max_age=max_age)
    except Exception as exc:
        # Powertools wraps every failure in GetParameterError: a throttle or a lost answer
        # underneath is still the TransientError the workflow retries and the API answers 503
        transient = as_transient(exc.__cause__ or exc.__context__ or exc)
        if transient is not None:
            raise transient from exc
        raise
    return value


@cache
def _secrets(endpoint_url: str | None, region: str | None) -> Any:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider  # only where a secret is read

    return SecretsProvider(boto3_client=_client("secretsmanager", endpoint_url, region))
