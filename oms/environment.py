"""Which environment `oms` talks to, and its stack's outputs.

``local`` is the stack `make up` serves: ``GET /_local/info`` on ``OMS_PORT`` names its AWS
endpoint and region, and this process's AWS SDK settings are pointed at it (with dummy
credentials, so real ones never go to a local endpoint). ``dev``, ``staging`` and ``prod`` use
the caller's AWS credentials as they are. Either way the outputs come from CloudFormation's
``describe_stacks`` of ``Oms-<env>`` (the local cloud deploys the same stack into moto).
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from oms.failures import OmsError


class EnvName(StrEnum):
    local = "local"
    dev = "dev"
    staging = "staging"
    prod = "prod"


@dataclass(frozen=True)
class Environment:
    name: str
    stack_name: str
    outputs: dict[str, str] = field(repr=False)

    @property
    def queue_prefix(self) -> str:
        return f"oms-{self.name}-"

    def client(self, service: str) -> Any:
        from functions.core.adapters.aws import client

        return client(service)


def local_port() -> str:
    return os.environ.get("OMS_PORT", "8080")


def local_info(port: str) -> dict[str, Any]:
    return _local_get(port, "info")


def local_now(port: str) -> datetime:
    """The local stack's clock (``GET /_local/clock``): real time, or as far as ``POST
    /_local/clock`` moved it — the time its use cases stamp documents and events with."""
    now = _local_get(port, "clock").get("now")
    try:
        return datetime.fromisoformat(str(now)).astimezone(UTC)
    except ValueError as e:
        raise OmsError(f"http://127.0.0.1:{port}/_local/clock answered no time ({now!r})") from e


def _local_get(port: str, path: str) -> dict[str, Any]:
    url = f"http://127.0.0.1:{port}/_local/{path}"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return dict(json.loads(response.read()))
    except (urllib.error.URLError, OSError) as e:
        raise OmsError(f"no local stack answers on http://127.0.0.1:{port} ({_reason(e)}): start it with "
                       "`make up` (or set OMS_PORT to the port it serves on)") from e
    except ValueError as e:
        raise OmsError(f"http://127.0.0.1:{port} is not an OMS local stack (its /_local/{path} is not JSON)") from e


def _reason(e: Exception) -> str:
    reason = getattr(e, "reason", e)
    return str(getattr(reason, "strerror", None) or reason)


def point_sdk_at_local(info: dict[str, Any]) -> None:
    os.environ.update(AWS_ENDPOINT_URL=info["aws_endpoint_url"], AWS_DEFAULT_REGION=info["region"],
                      AWS_REGION=info["region"], AWS_ACCOUNT_ID_ENDPOINT_MODE="disabled")
    # Dummy credentials: the local cloud takes any, and real ones never go to a local endpoint.
    os.environ.update({"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"})
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE"):
        os.environ.pop(name, None)


def stack_outputs(cloudformation: Any, stack_name: str) -> dict[str, str]:
    from botocore.exceptions import ClientError

    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as e:
        if "does not exist" in str(e):
            raise OmsError(f"stack {stack_name} is not deployed in this account and region "
                           f"(make deploy ENV={stack_name.removeprefix('Oms-')})") from e
        raise
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}


def connect(name: str) -> Environment:
    """The environment ``name``, its SDK settings in place and its stack's outputs read."""
    stack_name = f"Oms-{name}"
    if name == EnvName.local:
        info = local_info(local_port())
        point_sdk_at_local(info)
        stack_name = info.get("stack_name") or stack_name
    from functions.core.adapters.aws import client

    return Environment(name=name, stack_name=stack_name, outputs=stack_outputs(client("cloudformation"), stack_name))
