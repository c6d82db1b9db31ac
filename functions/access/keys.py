"""API keys: issued to one principal with one role, stored only as a SHA-256 hash.

The authorizer resolves ``x-api-key`` → hash → ``{role, principal_id}``. API Gateway's own key,
whose value is that hash (never the key itself; also always ≥ 20 characters as API Gateway
requires), sits in the role's usage plan, so throttling is per key (key source: authorizer).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from functions.core.errors import ValidationFailed
from functions.core.events import utc_now
from functions.core.principal import ROLES


def hash_key(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ApiKeyRecord:
    key_hash: str
    role: str
    principal_id: str
    enabled: bool
    created_at: str
    name: str
    gateway_key_id: str | None = None


class KeyStore(Protocol):
    def get(self, key_hash: str) -> ApiKeyRecord | None: ...
    def put(self, record: ApiKeyRecord) -> None: ...
    def set_enabled(self, key_hash: str, enabled: bool) -> None: ...


class GatewayKeys(Protocol):
    """API Gateway's side: a key whose value is the key's hash, in the role's usage plan."""

    def register(self, name: str, key_hash: str, role: str) -> str: ...
    def set_enabled(self, gateway_key_id: str, enabled: bool) -> None: ...


@dataclass
class KeyManager:
    store: KeyStore
    gateway: GatewayKeys
    clock: Callable[[], str] = utc_now

    def issue(self, role: str, principal_id: str, *, value: str | None = None) -> tuple[str, ApiKeyRecord]:
        """Create a key; ``value`` only for fixed local keys, otherwise 256 random bits."""
        if role not in ROLES:
            raise ValidationFailed("role", f"must be one of {', '.join(ROLES)}")
        if not principal_id:
            raise ValidationFailed("principal_id", "is required")
        value = value or f"oms_{secrets.token_urlsafe(32)}"
        key_hash = hash_key(value)
        existing = self.store.get(key_hash)
        if existing is not None:
            return value, existing  # issuing the same fixed key twice is a no-op
        name = f"{role}-{principal_id}-{key_hash[:8]}"
        gateway_id = self.gateway.register(name, key_hash, role)
        record = ApiKeyRecord(key_hash=key_hash, role=role, principal_id=principal_id, enabled=True,
                              created_at=self.clock(), name=name, gateway_key_id=gateway_id)
        self.store.put(record)
        return value, record

    def disable(self, value: str) -> ApiKeyRecord | None:
        record = self.store.get(hash_key(value))
        if record is None:
            return None
        self.store.set_enabled(record.key_hash, False)
        if record.gateway_key_id:
            self.gateway.set_enabled(record.gateway_key_id, False)
        return record


def resolve(store: KeyStore, value: str | None) -> ApiKeyRecord | None:
    """The enabled key record for ``value``, or None."""
    if not value:
        return None
    record = store.get(hash_key(value))
    return record if record is not None and record.enabled else None
