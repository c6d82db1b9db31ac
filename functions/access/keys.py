"""API keys: issued to one principal with one role, stored only as a SHA-256 hash.

The authorizer resolves ``x-api-key`` → hash → ``{role, principal_id}``. API Gateway's own key,
whose value is that hash (never the key itself; also always ≥ 20 characters as API Gateway
requires), sits in the role's usage plan, so throttling is per key (key source: authorizer).

A key stops working when it is disabled, or once its ``not_after`` has passed: rotation sets
``not_after`` on the old keys instead of relying on anyone to run a job when the grace ends.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from functions.access.ports import GatewayKeys, KeyStore
from functions.core import clock
from functions.core.errors import ValidationFailed
from functions.core.events import instant, stamp
from functions.core.principal import ROLES

__all__ = ["ApiKeyRecord", "GatewayKeys", "KeyManager", "KeyStore", "Rotation", "hash_key", "resolve"]

#: How long a rotated-out key keeps working by default: time to roll the new one out.
DEFAULT_GRACE = timedelta(hours=24)


def hash_key(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def now_utc() -> datetime:
    return clock.now()


@dataclass(frozen=True)
class ApiKeyRecord:
    key_hash: str
    role: str
    principal_id: str
    enabled: bool
    created_at: str
    name: str
    gateway_key_id: str | None = None
    #: The instant from which the key is refused (set by a rotation); None: until disabled.
    not_after: str | None = None

    def usable_at(self, now: datetime) -> bool:
        return self.enabled and (self.not_after is None or now < instant(self.not_after))


@dataclass(frozen=True)
class Rotation:
    value: str
    record: ApiKeyRecord
    #: The principal's previous keys of that role, as they are now (disabled or with ``not_after``).
    retired: tuple[ApiKeyRecord, ...]
    #: When the retired keys stop working.
    old_keys_stop_at: datetime


@dataclass
class KeyManager:
    store: KeyStore
    gateway: GatewayKeys
    clock: Callable[[], datetime] = field(default=now_utc)

    def issue(self, role: str, principal_id: str, *, value: str | None = None) -> tuple[str, ApiKeyRecord]:
        """Create a key; ``value`` only for fixed local keys, otherwise 256 random bits."""
        if role not in ROLES:
            raise ValidationFailed("role", f"must be one of {', '.join(ROLES)}")
        if not principal_id:
            raise ValidationFailed("principal_id", "is required")
        if "#" in principal_id:
            raise ValidationFailed("principal_id", "must not contain '#'")
        value = value or f"oms_{secrets.token_urlsafe(32)}"
        key_hash = hash_key(value)
        existing = self.store.get(key_hash)
        if existing is not None:
            return value, existing  # issuing the same fixed key twice is a no-op
        name = f"{role}-{principal_id}-{key_hash[:8]}"
        gateway_id = self.gateway.register(name, key_hash, role)
        record = ApiKeyRecord(key_hash=key_hash, role=role, principal_id=principal_id, enabled=True,
                              created_at=stamp(self.clock()), name=name, gateway_key_id=gateway_id)
        self.store.put(record)
        return value, record

    def rotate(self, principal_id: str, *, role: str | None = None,
               grace: timedelta = DEFAULT_GRACE) -> Rotation:
        """Issue a new key for the principal; its keys still working stop after ``grace``
        (at once for a grace of zero). ``role`` may be left out when the principal has one."""
        now = self.clock()
        current = [k for k in self.store.listing(principal_id=principal_id) if k.usable_at(now)]
        if role is None:
            roles = sorted({k.role for k in current})
            if len(roles) != 1:
                found = f"has keys for {', '.join(roles)}" if roles else "has no working key"
                raise ValidationFailed("role", f"is required: {principal_id} {found}")
            role = roles[0]
        value, record = self.issue(role, principal_id)
        stop_at = now + max(grace, timedelta(0))
        retired = []
        for old in (k for k in current if k.role == role and k.key_hash != record.key_hash):
            if stop_at <= now:
                retired.append(self._disable(old))
            elif old.not_after is None or instant(old.not_after) > stop_at:
                self.store.set_not_after(old.key_hash, stamp(stop_at))
                retired.append(replace(old, not_after=stamp(stop_at)))
            else:
                retired.append(old)  # already ends sooner: a rotation never extends a key
        return Rotation(value=value, record=record, retired=tuple(retired), old_keys_stop_at=stop_at)

    def disable(self, value: str) -> ApiKeyRecord | None:
        """Disable the key with this value (it answers 403 from then on)."""
        return self.disable_hash(hash_key(value))

    def disable_hash(self, key_hash: str) -> ApiKeyRecord | None:
        record = self.store.get(key_hash)
        return None if record is None else self._disable(record)

    def find(self, name: str) -> ApiKeyRecord | None:
        """A key by its name (``<role>-<principal>-<first 8 of the hash>``, as listed)."""
        return next((k for k in self.store.listing() if k.name == name), None)

    def listing(self, role: str | None = None, principal_id: str | None = None) -> list[ApiKeyRecord]:
        return self.store.listing(role=role, principal_id=principal_id)

    def _disable(self, record: ApiKeyRecord) -> ApiKeyRecord:
        self.store.set_enabled(record.key_hash, False)
        if record.gateway_key_id:
            self.gateway.set_enabled(record.gateway_key_id, False)
        return replace(record, enabled=False)


def resolve(store: KeyStore, value: str | None, now: datetime | None = None) -> ApiKeyRecord | None:
    """The record for ``value`` if the key works at ``now`` (enabled, not past ``not_after``), or None."""
    if not value:
        return None
    record = store.get(hash_key(value))
    return record if record is not None and record.usable_at(now or now_utc()) else None
