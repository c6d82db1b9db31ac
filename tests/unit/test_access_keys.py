"""API keys: stored hashed, resolved to one principal and role, disabled keys refused."""

from __future__ import annotations

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
        from dataclasses import replace

        self.items[key_hash] = replace(self.items[key_hash], enabled=enabled)


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
