"""Fixtures for the localcloud regression tests: moto in decorator mode with every patch."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from moto import mock_aws

import localcloud
from localcloud import timescale
from localcloud.patches import lambda_runtime
from tests.localcloud.lambdas import probe
from tests.localcloud.support import REGION, client


@pytest.fixture(scope="session", autouse=True)
def _patched() -> None:
    localcloud.install()
    timescale.set_scale(0.001)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    probe.reset()
    with mock_aws():
        client("iam").create_role(
            RoleName="localcloud-test",
            AssumeRolePolicyDocument=json.dumps(
                {
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ]
                }
            ),
        )
        yield
        localcloud.settle(timeout=10)
    lambda_runtime.restore_environment()
