"""API keys: stored hashed, resolved to one principal and role, disabled or expired keys
refused; rotation hands out a new key and retires the old ones after a grace period."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from functions.access.keys import ApiKeyRecord, KeyManager, hash_key, resolve
from functions.core.errors import ValidationFailed


class MemoryStore:
    def __init__(self) -> None:
        self.items: dict[str, ApiKeyRecord] = {}

    def get(self, key_hash: str) -> ApiKeyRecord | None:
        return self.items.get(key_hash)

    def put(self, record: ApiKeyRecord) -> None:
        self.items[record.key_hash] = record

    def set_enabled(self, key_hash: str, enabled: bool) -> None:
        self.items[key_hash] = replace(self.items[key_hash], enabled=enabled)

    def set_not_after(self, key_hash: str, not_after: str) -> None:
        self.items[key_hash] = replace(self.items[key_hash], not_after=not_after)

    def listing(self, role: str | None = None, principal_id: str | None = None) -> list[ApiKeyRecord]:
        return sorted((r for r in self.items.values()
                       if role in (None, r.role) and principal_id in (None, r.principal_id)),
                      key=lambda r: r.created_at)


class MemoryGateway:
    def __init__(self) -> None:
        self.keys: dict[str, dict[str, object]] = {}

    def register(self, name: str, key_hash: str, role: str) -> str:
        key_id = f"k{len(self.keys)}"
        self.keys[key_id] = {"value": key_hash, "role": role, "enabled": True}
        return key_id

    def set_enabled(self, gateway_key_id: str, enabled: bool) -> None:
        self.keys[gateway_key_id]["enabled"] = enabled


def test_issued_key_resolves_to_its_principal_and_is_stored_only_hashed() -> None:
    store, gateway = MemoryStore(), MemoryGateway()
    value, record = KeyManager(store, gateway).issue("channel", "webshop")
    assert value.startswith("oms_") and len(value) > 40
    assert value not in repr(store.items) and record.key_hash == hash_key(value)
    resolved = resolve(store, value)
    assert resolved is not None and (resolved.role, resolved.principal_id) == ("channel", "webshop")
    gateway_key = gateway.keys[record.gateway_key_id or ""]
    assert gateway_key["role"] == "channel" and gateway_key["value"] == record.key_hash


def test_fixed_local_key_issued_twice_is_one_key() -> None:
    store, gateway = MemoryStore(), MemoryGateway()
    manager = KeyManager(store, gateway)
    manager.issue("node", "DC-BERLIN", value="local-dc-key")
    manager.issue("node", "DC-BERLIN", value="local-dc-key")
    assert len(store.items) == 1 and len(gateway.keys) == 1


def test_disabled_or_unknown_keys_resolve_to_nothing() -> None:
    store, gateway = MemoryStore(), MemoryGateway()
    manager = KeyManager(store, gateway)
    manager.issue("agent", "agent-1", value="k-agent")
    manager.disable("k-agent")
    assert resolve(store, "k-agent") is None and resolve(store, "nope") is None and resolve(store, None) is None
    assert gateway.keys["k0"]["enabled"] is False


def test_unknown_role_is_refused() -> None:
    with pytest.raises(ValidationFailed):
        KeyManager(MemoryStore(), MemoryGateway()).issue("admin", "x")


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, at: str = "2026-12-01T09:00:00+00:00") -> None:
        self.now = datetime.fromisoformat(at)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> None:
        self.now += by


def test_rotated_out_key_works_until_the_grace_ends_and_never_after() -> None:
    # Given a webshop with a key in use
    store, clock = MemoryStore(), Clock()
    manager = KeyManager(store, MemoryGateway(), clock=clock)
    old, _ = manager.issue("channel", "shop-1")
    # When an operator rotates its key with 24 hours of grace
    rotation = manager.rotate("shop-1", grace=timedelta(hours=24))
    # Then the new key works at once and the old one until the grace ends
    assert rotation.value != old and rotation.record.role == "channel"
    assert rotation.old_keys_stop_at == clock.now + timedelta(hours=24)
    assert resolve(store, rotation.value, now=clock.now) is not None
    assert resolve(store, old, now=clock.now + timedelta(hours=23, minutes=59)) is not None
    # and from then on the old key is refused without anyone running a job, the new one still works
    assert resolve(store, old, now=clock.now + timedelta(hours=24)) is None
    assert resolve(store, rotation.value, now=clock.now + timedelta(days=30)) is not None
    assert [k.not_after for k in rotation.retired] == ["2026-12-02T09:00:00.000Z"]


def test_rotation_with_no_grace_disables_the_old_key_at_once_in_the_gateway_too() -> None:
    # Given a warehouse key
    store, gateway, clock = MemoryStore(), MemoryGateway(), Clock()
    manager = KeyManager(store, gateway, clock=clock)
    old, old_record = manager.issue("node", "DC-BERLIN")
    # When it is rotated with a grace of zero (say, the key leaked)
    rotation = manager.rotate("DC-BERLIN", grace=timedelta(0))
    # Then the old key is refused right now, by the authorizer and by API Gateway, the new one works
    assert resolve(store, old, now=clock.now) is None
    assert gateway.keys[old_record.gateway_key_id or ""]["enabled"] is False
    assert resolve(store, rotation.value, now=clock.now) is not None
    assert [k.enabled for k in rotation.retired] == [False]


def test_rotation_finds_the_role_and_leaves_other_principals_alone() -> None:
    # Given two shops with a key each
    store, clock = MemoryStore(), Clock()
    manager = KeyManager(store, MemoryGateway(), clock=clock)
    mine, _ = manager.issue("channel", "shop-1")
    theirs, _ = manager.issue("channel", "shop-10")
    # When shop-1 is rotated without naming its role, and the grace has passed
    rotation = manager.rotate("shop-1", grace=timedelta(minutes=30))
    clock.advance(timedelta(minutes=30))
    # Then shop-1 got a channel key, its old key stopped, and shop-10's key is untouched
    assert rotation.record.role == "channel" and rotation.record.principal_id == "shop-1"
    assert resolve(store, mine, now=clock.now) is None
    assert resolve(store, theirs, now=clock.now) is not None


def test_rotating_a_principal_without_a_key_needs_its_role() -> None:
    # Given a principal that has no key yet
    manager = KeyManager(MemoryStore(), MemoryGateway(), clock=Clock())
    # When nobody says which role a principal with no key has, Then nothing is issued
    with pytest.raises(ValidationFailed, match="role"):
        manager.rotate("new-shop")
    # and with the role it simply gets its first key
    rotation = manager.rotate("new-shop", role="channel")
    assert rotation.retired == () and rotation.record.principal_id == "new-shop"


def test_listing_shows_every_key_of_a_principal_but_never_a_key_value() -> None:
    # Given a principal whose key was rotated
    store, clock = MemoryStore(), Clock()
    manager = KeyManager(store, MemoryGateway(), clock=clock)
    first, _ = manager.issue("finance", "fin-team")
    clock.advance(timedelta(seconds=1))
    second = manager.rotate("fin-team", grace=timedelta(hours=1)).value
    # When an operator lists its keys
    listed = manager.listing(principal_id="fin-team")
    # Then both are there, oldest first, the old one with its expiry, and no key value anywhere
    assert [k.not_after is not None for k in listed] == [True, False]
    assert first not in repr(listed) and second not in repr(listed)
    assert manager.find(listed[0].name) == listed[0]
