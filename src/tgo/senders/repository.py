from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from tgo.kit.repository import TenantRepository
from tgo.models import SenderNumber


class SenderNumberRepository(TenantRepository):
    def _live(self) -> Select[SenderNumber]:
        return select(SenderNumber).where(
            SenderNumber.tenant_id == self.tenant_id, SenderNumber.deleted_at.is_(None)
        )

    async def get(self, number_id: int, *, for_update: bool = False) -> SenderNumber | None:
        stmt = self._live().where(SenderNumber.id == number_id)
        if for_update:
            stmt = stmt.with_for_update()
        return await self.session.scalar(stmt)

    async def get_by_phone(self, phone: str) -> SenderNumber | None:
        return await self.session.scalar(self._live().where(SenderNumber.phone == phone))

    async def list(self, *, limit: int, before_id: int | None, status: str | None) -> list[SenderNumber]:
        stmt = self._live().order_by(SenderNumber.id.desc()).limit(limit)
        if before_id is not None:
            stmt = stmt.where(SenderNumber.id < before_id)
        if status:
            stmt = stmt.where(SenderNumber.status == status)
        return list(await self.session.scalars(stmt))

    async def add(self, number: SenderNumber) -> SenderNumber:
        number.tenant_id = self.tenant_id
        self.session.add(number)
        await self.session.flush()
        return number


class SenderNumbersByPhone:
    """Cross-tenant: every tenant's live registration of a phone (Connect account events concern them all)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def all(self, phone: str) -> list[SenderNumber]:
        stmt = (
            select(SenderNumber)
            .where(SenderNumber.phone == phone, SenderNumber.deleted_at.is_(None))
            .order_by(SenderNumber.id)
        )
        return list(await self.session.scalars(stmt))


class SenderNumberOperator:
    """Operator access by id across tenants (the `tgo sender` commands)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, number_id: int) -> SenderNumber | None:
        return await self.session.scalar(
            select(SenderNumber).where(SenderNumber.id == number_id, SenderNumber.deleted_at.is_(None))
        )
