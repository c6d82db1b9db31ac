"""What key management needs from storage and from API Gateway."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from functions.access.keys import ApiKeyRecord


class KeyStore(Protocol):
    def get(self, key_hash: str) -> ApiKeyRecord | None: ...
    def put(self, record: ApiKeyRecord) -> None: ...
    def set_enabled(self, key_hash: str, enabled: bool) -> None: ...
    def set_not_after(self, key_hash: str, not_after: str) -> None: ...
    def listing(self, role: str | None = None, principal_id: str | None = None) -> list[ApiKeyRecord]:
        """Every key (of one role, of one principal), oldest first; never the values (not stored)."""
        ...


class GatewayKeys(Protocol):
    """API Gateway's side: a key whose value is the key's hash, in the role's usage plan."""

    def register(self, name: str, key_hash: str, role: str) -> str: ...
    def set_enabled(self, gateway_key_id: str, enabled: bool) -> None: ...
