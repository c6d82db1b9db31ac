"""Helpers for the localcloud tests (deploying functions and mappings by API)."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import boto3

import localcloud

REGION = localcloud.REGION
ROLE = f"arn:aws:iam::{localcloud.ACCOUNT_ID}:role/localcloud-test"
PROBE = "tests.localcloud.lambdas.probe.lambda_handler"


def client(service: str) -> Any:
    return boto3.client(service, region_name=REGION)


def code_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("README", "handlers are imported from the host package")
    return buf.getvalue()


def create_function(
    name: str, handler: str = PROBE, environment: dict[str, str] | None = None, timeout: int = 3, memory: int = 128
) -> str:
    return client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=ROLE,
        Handler=handler,
        Code={"ZipFile": code_zip()},
        Timeout=timeout,
        MemorySize=memory,
        Environment={"Variables": environment or {}},
    )["FunctionArn"]


def invoke(name: str, event: Any) -> tuple[Any, str | None]:
    response = client("lambda").invoke(FunctionName=name, Payload=json.dumps(event))
    return json.loads(response["Payload"].read()), response.get("FunctionError")


def create_queue(name: str, **attributes: str) -> tuple[str, str]:
    sqs = client("sqs")
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def drain_queue(url: str) -> list[dict[str, Any]]:
    """Every message left in a queue (received once, visibility long enough to not see it twice)."""
    sqs, found = client("sqs"), []
    while batch := sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60, AttributeNames=["All"]
    ).get("Messages", []):
        found += batch
    return found


def create_table(name: str, stream: bool = True) -> str:
    """A PK/SK table; returns its stream ARN (or table ARN without a stream)."""
    spec: dict[str, Any] = {
        "TableName": name,
        "KeySchema": [{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
        "AttributeDefinitions": [
            {"AttributeName": "PK", "AttributeType": "S"},
            {"AttributeName": "SK", "AttributeType": "S"},
        ],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if stream:
        spec["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    table = client("dynamodb").create_table(**spec)["TableDescription"]
    return table["LatestStreamArn"] if stream else table["TableArn"]
