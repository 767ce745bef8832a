from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tgo.kit.repository import TenantRepository
from tgo.models import ApiKey


class ApiKeyRepository(TenantRepository):
    async def add(self, api_key: ApiKey) -> ApiKey:
        api_key.tenant_id = self.tenant_id
        self.session.add(api_key)
        await self.session.flush()
        return api_key

    async def list(self) -> list[ApiKey]:
        result = await self.session.scalars(
            select(ApiKey).where(ApiKey.tenant_id == self.tenant_id).order_by(ApiKey.id.desc())
        )
        return list(result)

    async def get(self, key_id: int) -> ApiKey | None:
        return await self.session.scalar(
            select(ApiKey).where(ApiKey.id == key_id, ApiKey.tenant_id == self.tenant_id)
        )


class ApiKeyLookup:
    """Cross-tenant lookups: only operator commands use it (the guard uses ``tgo.auth.repository``)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_hash(self, key_hash: str) -> ApiKey | None:
        """The key with this hash, whatever its tenant (operator commands; the guard uses ``auth_row``)."""
        return await self.session.scalar(select(ApiKey).where(ApiKey.key_hash == key_hash))

    async def get(self, key_id: int) -> ApiKey | None:
        return await self.session.get(ApiKey, key_id)
