"""The embedded local cloud: moto + an in-process Lambda runtime + fixes for moto's gaps.

``install()`` applies every fix (idempotent); call it before moto serves a request (before
``mock_aws`` starts or the moto server is created). ``settle()`` waits until the cloud is idle.
"""

from __future__ import annotations

import threading

from moto.core.config import default_user_config

from localcloud import timescale
from localcloud.patches import (
    cloudformation_apigateway,
    cloudformation_models,
    cloudformation_refs,
    cloudformation_stepfunctions,
    dynamodb_linearizable,
    dynamodb_partitions,
    dynamodb_responses,
    dynamodb_streams,
    dynamodb_transactions,
    eventbridge_targets,
    firehose_delivery,
    lambda_runtime,
    lambda_snapstart,
    moto_server_dispatch,
    powertools_router_state,
    ses_content,
    sfn_time,
    sqs_event_source,
    stepfunctions_clients,
    stepfunctions_names,
    stepfunctions_programs,
    stepfunctions_sync,
)
from localcloud.patches.lambda_runtime import INVOCATIONS, Invocation
from localcloud.settle import busy, settle

ACCOUNT_ID = "123456789012"
REGION = "eu-central-1"

ALL_PATCHES = (
    lambda_runtime,
    lambda_snapstart,
    dynamodb_linearizable,
    dynamodb_streams,
    dynamodb_transactions,
    dynamodb_partitions,  # after dynamodb_transactions: it follows that rollback
    dynamodb_responses,
    sqs_event_source,
    eventbridge_targets,
    firehose_delivery,
    cloudformation_refs,
    cloudformation_stepfunctions,
    cloudformation_apigateway,
    cloudformation_models,
    stepfunctions_names,
    stepfunctions_programs,
    stepfunctions_clients,
    stepfunctions_sync,
    sfn_time,
    ses_content,
    moto_server_dispatch,
    powertools_router_state,
)

_installed = False
_install_lock = threading.Lock()


def install() -> None:
    """Apply every patch once, and configure moto to execute state machines and to keep the
    real Lambda backend (whose Docker runtime ``lambda_runtime`` replaces)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        default_user_config["stepfunctions"] = {"execute_state_machine": True}
        default_user_config["lambda"] = {"use_docker": True}
        for patch in ALL_PATCHES:
            patch.install()
        _installed = True


__all__ = [
    "ACCOUNT_ID",
    "ALL_PATCHES",
    "INVOCATIONS",
    "REGION",
    "Invocation",
    "busy",
    "install",
    "settle",
    "timescale",
]
