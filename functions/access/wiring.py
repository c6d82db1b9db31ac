"""Composition root of access: what the authorizer, the `oms` command line and the local seed
use, built on first use and cached per table (and usage plans), never at import time."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

from functions.core.settings import settings

from .adapters.key_store import USAGE_PLAN_OUTPUTS, ApiGatewayKeys, DynamoKeyStore
from .keys import KeyManager


def authorizer_store() -> DynamoKeyStore:
    """The key store of this function's table (TABLE_NAME)."""
    return key_store(settings().table_name)


@cache
def key_store(table_name: str) -> DynamoKeyStore:
    return DynamoKeyStore(table_name)


def key_manager(outputs: Mapping[str, str]) -> KeyManager:
    """Key management for a deployed stack, wired from its outputs (TableName, UsagePlan*)."""
    missing = [name for name in ("TableName", *USAGE_PLAN_OUTPUTS.values()) if name not in outputs]
    if missing:
        raise KeyError(f"stack outputs lack {', '.join(missing)}")
    plans = tuple((role, outputs[name]) for role, name in USAGE_PLAN_OUTPUTS.items())
    return _key_manager(outputs["TableName"], plans)


@cache
def _key_manager(table_name: str, plans: tuple[tuple[str, str], ...]) -> KeyManager:
    return KeyManager(key_store(table_name), ApiGatewayKeys(dict(plans)))
