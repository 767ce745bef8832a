from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tgo.models import Tenant


class TenantDirectory:
    """Operator-level access to tenants (not tenant-bound by nature)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_slug(self, slug: str) -> Tenant | None:
        return await self.session.scalar(select(Tenant).where(Tenant.slug == slug))

    async def id_by_domain(self, domain: str) -> int | None:
        return await self.session.scalar(select(Tenant.id).where(Tenant.domain == domain))

    async def get(self, tenant_id: int) -> Tenant | None:
        return await self.session.get(Tenant, tenant_id)

    async def clash(self, slug: str, domain: str) -> Tenant | None:
        return await self.session.scalar(
            select(Tenant).where(or_(Tenant.slug == slug, Tenant.domain == domain))
        )

    async def add(self, tenant: Tenant) -> Tenant:
        self.session.add(tenant)
        await self.session.flush()
        return tenant
