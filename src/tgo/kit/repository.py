"""Repositories are built with a tenant id and hold every query for their table."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession


class TenantRepository:
    """Base for tenant-bound repositories: every query filters by ``self.tenant_id``."""

    def __init__(self, session: AsyncSession, tenant_id: int) -> None:
        self.session = session
        self.tenant_id = tenant_id
