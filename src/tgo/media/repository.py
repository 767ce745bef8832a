"""Every media query of the API: tenant-bound."""

from __future__ import annotations

from sqlalchemy import select

from tgo.kit.repository import TenantRepository
from tgo.models import Media


class MediaRepository(TenantRepository):
    async def get(self, media_id: int) -> Media | None:
        return await self.session.scalar(
            select(Media).where(Media.id == media_id, Media.tenant_id == self.tenant_id)
        )
