"""The API-key guard's queries: one Core statement per request (the key and its tenant), and the
throttled ``last_used_at`` stamp. The guard's own, so that ``auth`` needs nothing of ``apikeys``."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from tgo.models import ApiKey, Tenant

# The guard's lookup, built once: the key's columns the guard checks and its tenant's, plus (when the request
# names a host) the id of the tenant owning that host. Core, not ORM entities: it runs on every request.
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
_AUTH_BY_HASH_AND_HOST = (
    select(*_AUTH_COLUMNS, select(Tenant.id).where(Tenant.domain == bindparam("host")).scalar_subquery())
    .join(Tenant, Tenant.id == ApiKey.tenant_id)
    .where(ApiKey.key_hash == bindparam("h"))
)


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
    host_tenant_id: int | None  # the tenant owning the request's host; None when no host is named


async def auth_row(conn: AsyncConnection, key_hash: str, host: str | None) -> AuthRow | None:
    """The key with this hash and its tenant (and, for a named host, the host's tenant), or None."""
    if host:
        row = (await conn.execute(_AUTH_BY_HASH_AND_HOST, {"h": key_hash, "host": host})).first()
        return None if row is None else AuthRow(*row)
    row = (await conn.execute(_AUTH_BY_HASH, {"h": key_hash})).first()
    return None if row is None else AuthRow(*row[:10], None)


async def touch_key(conn: AsyncConnection, key_id: int, at: datetime, every: timedelta) -> None:
    """Record use, at most once per ``every`` so reads do not become writes on every request."""
    await conn.execute(
        update(ApiKey)
        .where(ApiKey.id == key_id, or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < at - every))
        .values(last_used_at=at)
    )
