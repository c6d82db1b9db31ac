"""``cdk deploy`` for the local cloud: publish a cloud assembly's assets, create its stack, and
refuse a stack moto only half created.

moto's CloudFormation skips resource types it does not model with only a log warning and still
reports CREATE_COMPLETE, so a missing resource would surface later as a confusing runtime
error. After ``create_stack`` the template's resources are compared with
``list_stack_resources``; anything missing must be on :data:`ALLOWED_MISSING` with its reason.
A few properties that matter and moto can show (event source mapping settings, table GSIs and
stream) are compared too, and the functions' environments must agree (they share one process).
"""

from __future__ import annotations

import contextlib
import io
import json
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from moto.awslambda.models import lambda_backends

from localcloud import ACCOUNT_ID, REGION
from localcloud.patches.lambda_runtime import check_shared_environment

PARTITION = "aws"
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]

# type -> why its absence does not change local behaviour. Empty: every resource type of the
# Oms-local template is created (moto's own models or ``patches.cloudformation_models``).
ALLOWED_MISSING: dict[str, str] = {}


class DeployError(RuntimeError):
    """The stack could not be deployed faithfully."""


@dataclass(frozen=True)
class Deployment:
    stack_name: str
    outputs: dict[str, str]
    physical_ids: dict[str, str]
    types: dict[str, str]
    template: dict[str, Any] = field(repr=False)

    def of_type(self, resource_type: str) -> dict[str, str]:
        """Logical id -> physical id of every resource of one type."""
        return {k: v for k, v in self.physical_ids.items() if self.types.get(k) == resource_type}


def _substitute(text: str) -> str:
    return (
        text.replace("${AWS::AccountId}", ACCOUNT_ID)
        .replace("${AWS::Region}", REGION)
        .replace("${AWS::Partition}", PARTITION)
    )


def _zip_directory(directory: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(directory).as_posix())
    return buffer.getvalue()


def publish_assets(assembly: Path, assets_file: str, s3: Any) -> int:
    """Upload the file assets of one ``*.assets.json`` as cdk-assets does; returns the count."""
    manifest = json.loads((assembly / assets_file).read_text())
    if manifest.get("dockerImages"):
        raise DeployError("Docker image assets cannot run locally")
    published = 0
    for asset in manifest.get("files", {}).values():
        source = assembly / asset["source"]["path"]
        packaging = asset["source"].get("packaging", "zip" if source.is_dir() else "file")
        body = _zip_directory(source) if packaging == "zip" and source.is_dir() else source.read_bytes()
        for destination in asset["destinations"].values():
            bucket, key = _substitute(destination["bucketName"]), _substitute(destination["objectKey"])
            with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou, s3.exceptions.BucketAlreadyExists):
                s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
            s3.put_object(Bucket=bucket, Key=key, Body=body)
            published += 1
    return published


def _stack_artifact(artifacts: dict[str, Any], stack_name: str) -> dict[str, Any]:
    for artifact_id, artifact in artifacts.items():
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        if stack_name in (artifact_id, artifact.get("properties", {}).get("stackName")):
            return artifact
    raise DeployError(f"stack {stack_name} is not in the assembly")


def _wait(cfn: Any, stack_name: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
        if not stack["StackStatus"].endswith("IN_PROGRESS"):
            break
        if time.monotonic() > deadline:
            raise DeployError(f"{stack_name} still {stack['StackStatus']} after {timeout}s")
        time.sleep(0.02)
    if stack["StackStatus"] != "CREATE_COMPLETE":
        raise DeployError(f"{stack_name}: {stack['StackStatus']} {stack.get('StackStatusReason', '')}")
    return stack


def check_complete(template: dict[str, Any], physical_ids: dict[str, str]) -> None:
    """Fail on template resources moto did not create, unless allowed (with a reason)."""
    missing = sorted(
        f"{logical} ({spec['Type']})"
        for logical, spec in template.get("Resources", {}).items()
        if logical not in physical_ids and "Condition" not in spec and spec["Type"] not in ALLOWED_MISSING
    )
    if missing:
        raise DeployError("moto did not create: " + ", ".join(missing))


def _check_properties(deployment: Deployment) -> None:
    """Compare properties moto reports with the template, where a silent drop would matter."""
    resources = deployment.template["Resources"]
    problems: list[str] = []
    lam = boto3.client("lambda", region_name=REGION)
    for logical, uuid in deployment.of_type("AWS::Lambda::EventSourceMapping").items():
        wanted = resources[logical]["Properties"]
        actual = lam.get_event_source_mapping(UUID=uuid)
        for key in ("BatchSize", "FunctionResponseTypes", "BisectBatchOnFunctionError", "MaximumRetryAttempts"):
            if key in wanted and actual.get(key) != wanted[key]:
                problems.append(f"{logical}.{key}: template {wanted[key]!r}, moto {actual.get(key)!r}")
    ddb = boto3.client("dynamodb", region_name=REGION)
    for logical, name in deployment.of_type("AWS::DynamoDB::Table").items():
        wanted = resources[logical]["Properties"]
        table = ddb.describe_table(TableName=name)["Table"]
        want_gsis = sorted(g["IndexName"] for g in wanted.get("GlobalSecondaryIndexes", []))
        have_gsis = sorted(g["IndexName"] for g in table.get("GlobalSecondaryIndexes", []))
        if want_gsis != have_gsis:
            problems.append(f"{logical}: GSIs template {want_gsis}, moto {have_gsis}")
        want_stream = (wanted.get("StreamSpecification") or {}).get("StreamViewType")
        have_stream = (table.get("StreamSpecification") or {}).get("StreamViewType")
        if want_stream != have_stream:
            problems.append(f"{logical}: stream template {want_stream}, moto {have_stream}")
    if problems:
        raise DeployError("moto dropped properties: " + "; ".join(problems))


def _check_handlers(deployment: Deployment) -> None:
    """Each function's code package must contain its handler module (the in-process runtime
    imports handlers from the host, so a package missing one would otherwise work locally)."""
    backend = lambda_backends[ACCOUNT_ID][REGION]
    problems = []
    for name in deployment.of_type("AWS::Lambda::Function").values():
        fn = backend.get_function(name)
        module = fn.handler.rpartition(".")[0].replace(".", "/")
        names = set(zipfile.ZipFile(io.BytesIO(fn.code_bytes)).namelist())
        if f"{module}.py" not in names and f"{module}/__init__.py" not in names:
            problems.append(f"{name}: {module}.py not in its code package")
    if problems:
        raise DeployError("; ".join(problems))


def _check_environments(template: dict[str, Any]) -> None:
    functions = [
        (logical, spec["Properties"].get("Environment", {}).get("Variables", {}))
        for logical, spec in template["Resources"].items()
        if spec["Type"] == "AWS::Lambda::Function"
    ]
    # Values that are CloudFormation functions ({"Ref": ...}) compare by their JSON.
    check_shared_environment(
        (name, {k: v if isinstance(v, str) else json.dumps(v, sort_keys=True) for k, v in env.items()})
        for name, env in functions
    )


def deploy_assembly(assembly: Path, stack_name: str, timeout: float = 60.0) -> Deployment:
    """Publish the stack's assets, create it in the local cloud and verify it."""
    artifacts = json.loads((assembly / "manifest.json").read_text())["artifacts"]
    artifact = _stack_artifact(artifacts, stack_name)
    s3 = boto3.client("s3", region_name=REGION)
    for dependency in artifact.get("dependencies", []):
        if artifacts.get(dependency, {}).get("type") == "cdk:asset-manifest":
            publish_assets(assembly, artifacts[dependency]["properties"]["file"], s3)
    template = json.loads((assembly / artifact["properties"]["templateFile"]).read_text())
    return deploy_template(template, stack_name, timeout)


def deploy_template(template: dict[str, Any], stack_name: str, timeout: float = 60.0) -> Deployment:
    """Create a stack from a template whose assets are already published, and verify it."""
    _check_environments(template)
    cfn = boto3.client("cloudformation", region_name=REGION)
    cfn.create_stack(StackName=stack_name, TemplateBody=json.dumps(template), Capabilities=CAPABILITIES)
    stack = _wait(cfn, stack_name, timeout)
    rows = (
        cfn.get_paginator("list_stack_resources")
        .paginate(StackName=stack_name)
        .build_full_result()["StackResourceSummaries"]
    )
    physical_ids = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in rows}
    check_complete(template, physical_ids)
    deployment = Deployment(
        stack_name=stack_name,
        outputs={o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])},
        physical_ids=physical_ids,
        types={logical: spec["Type"] for logical, spec in template["Resources"].items()},
        template=template,
    )
    _check_properties(deployment)
    _check_handlers(deployment)
    return deployment
