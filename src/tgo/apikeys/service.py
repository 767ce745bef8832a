"""API keys: created with scopes, shown once, stored as a hash, revocable."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from tgo.apikeys.repository import ApiKeyLookup, ApiKeyRepository
from tgo.auth.key_cache import TOPIC_API_KEY
from tgo.auth.key_format import generate_key, hash_key, key_hint
from tgo.auth.scopes import parse_scopes
from tgo.errors import NotFound, ValidationFailed
from tgo.kit.clock import now
from tgo.models import ApiKey
from tgo.notices import publish_change


async def create_api_key(
    session: AsyncSession,
    tenant_id: int,
    *,
    name: str,
    scopes: str | list[str],
    expires_at: datetime | None = None,
) -> tuple[ApiKey, str]:
    """Create a key; returns the row and the plain key, which is never stored or shown again."""
    try:
        parsed = parse_scopes(scopes)
    except ValueError as exc:
        raise ValidationFailed({"scopes": [str(exc)]}) from exc
    name = name.strip()
    if not name or len(name) > 200:
        raise ValidationFailed({"name": ["A name of 1 to 200 characters is required."]})
    if expires_at is not None and expires_at <= now():
        raise ValidationFailed({"expires_at": ["The expiry must be in the future."]})
    plain = generate_key()
    row = ApiKey(
        name=name,
        key_hash=hash_key(plain),
        key_hint=key_hint(plain),
        scopes=parsed,
        expires_at=expires_at,
        created_at=now(),
    )
    await ApiKeyRepository(session, tenant_id).add(row)
    await publish_change(session, TOPIC_API_KEY, row.key_hash)
    return row, plain


async def list_api_keys(session: AsyncSession, tenant_id: int) -> list[ApiKey]:
    return await ApiKeyRepository(session, tenant_id).list()


async def revoke_api_key(session: AsyncSession, tenant_id: int | None, key_id: int) -> ApiKey:
    """Revoke at once: every process's key cache drops the key when the revocation commits; idempotent."""
    if tenant_id is None:
        row = await ApiKeyLookup(session).get(key_id)
    else:
        row = await ApiKeyRepository(session, tenant_id).get(key_id)
    if row is None:
        raise NotFound()
    if row.revoked_at is None:
        row.revoked_at = now()
        await session.flush()
        await publish_change(session, TOPIC_API_KEY, row.key_hash)
    return row
