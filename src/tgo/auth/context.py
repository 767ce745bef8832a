from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AuthContext:
    """Who is calling: the key's tenant and scopes."""

    tenant_id: int
    tenant_slug: str
    tenant_name: str
    tenant_domain: str
    api_key_id: int | None
    scopes: frozenset[str]

    def has_scope(self, scope: str) -> bool:
        return "*" in self.scopes or scope in self.scopes
