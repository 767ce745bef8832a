"""The API-key guard's queries (the key and its tenant, the tenant owning a host; run on a cache miss, see
``auth.key_cache``) and the batched ``last_used_at`` stamp. The guard's own, so ``auth`` needs nothing of
``apikeys``."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from tgo.models import ApiKey, Tenant

# The guard's lookups, built once: the key's columns the guard checks and its tenant's; the id of the tenant
# owning a host. Core, not ORM entities.
_AUTH_COLUMNS = (
    ApiKey.id,
    ApiKey.key_hash,
    ApiKey.scopes,
    ApiKey.revoked_at,
    ApiKey.expires_at,
    ApiKey.last_used_at,
    Tenant.id,
    Tenant.slug,
    Tenant.name,
    Tenant.domain,
)
_AUTH_BY_HASH = (
    select(*_AUTH_COLUMNS)
    .join(Tenant, Tenant.id == ApiKey.tenant_id)
    .where(ApiKey.key_hash == bindparam("h"))
)
_TENANT_BY_DOMAIN = select(Tenant.id).where(Tenant.domain == bindparam("host"))


class AuthRow(NamedTuple):
    """What the guard reads for a presented key: the key's columns and its tenant's."""

    key_id: int
    key_hash: str
    scopes: list[str]
    revoked_at: datetime | None
    expires_at: datetime | None
    last_used_at: datetime | None
    tenant_id: int
    tenant_slug: str
    tenant_name: str
    tenant_domain: str


async def key_row(conn: AsyncConnection, key_hash: str) -> AuthRow | None:
    """The key with this hash and its tenant, or None."""
    row = (await conn.execute(_AUTH_BY_HASH, {"h": key_hash})).first()
    return None if row is None else AuthRow._make(row)


async def tenant_id_by_domain(conn: AsyncConnection, host: str) -> int | None:
    """The id of the tenant whose API domain is ``host`` (canonical form), or None."""
    found = (await conn.execute(_TENANT_BY_DOMAIN, {"host": host})).scalar()
    return None if found is None else int(found)


async def touch_keys(conn: AsyncConnection, key_ids: list[int], at: datetime, every: timedelta) -> None:
    """Record use of these keys at ``at`` (one statement), skipping any stamped within ``every``."""
    await conn.execute(
        update(ApiKey)
        .where(ApiKey.id.in_(key_ids), or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < at - every))
        .values(last_used_at=at)
    )
