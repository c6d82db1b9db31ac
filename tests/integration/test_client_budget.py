"""The client's retry budget, measured against an endpoint that accepts and never answers
(tests/unit/test_retries.py holds the budget to the function timeout by arithmetic)."""

from __future__ import annotations

import socket

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ReadTimeoutError

from functions.core.adapters import aws
from functions.core.errors import as_transient


@pytest.mark.timeout(30)
def test_the_budget_is_what_botocore_really_spends_against_an_endpoint_that_never_answers() -> None:
    # a socket that accepts and never answers: every attempt waits its read timeout out
    import time

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    url = f"http://127.0.0.1:{server.getsockname()[1]}"
    # the functions' own client configuration, its read timeout shortened so the test is quick
    config = aws._CONFIG.merge(Config(read_timeout=0.5))
    db = boto3.client("dynamodb", endpoint_url=url, region_name="eu-central-1", config=config,
                      aws_access_key_id="unit", aws_secret_access_key="unit")
    started = time.monotonic()
    with pytest.raises(ReadTimeoutError) as failed:
        db.get_item(TableName="t", Key={"PK": {"S": "x"}})
    spent = time.monotonic() - started
    server.setblocking(False)
    attempts = 0
    while True:  # each attempt came on a connection of its own (a timed-out one is dropped)
        try:
            conn, _ = server.accept()
        except BlockingIOError:
            break
        conn.close()
        attempts += 1
    server.close()
    assert attempts == aws.MAX_ATTEMPTS
    # two attempts of 0.5 s and at most 1 s of backoff; and the error is one a task retries
    assert 1.0 <= spent <= 2.0 + 1.0, spent
    assert as_transient(failed.value) is not None
