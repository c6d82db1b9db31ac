"""Who is calling: one principal with one role (API.md, "Access")."""

from __future__ import annotations

from dataclasses import dataclass

ROLES = ("channel", "node", "agent", "finance")


@dataclass(frozen=True)
class Principal:
    role: str
    principal_id: str
