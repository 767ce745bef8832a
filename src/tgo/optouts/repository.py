"""Every query of the opt-out list and the opt-out settings (tenant-bound)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from tgo.kit.repository import TenantRepository
from tgo.models import OptOut, OptOutSettings


class OptOutRepository(TenantRepository):
    async def get(self, channel: str, phone: str) -> OptOut | None:
        return await self.session.scalar(
            select(OptOut).where(
                OptOut.tenant_id == self.tenant_id, OptOut.channel == channel, OptOut.phone == phone
            )
        )

    async def is_opted_out(self, channel: str, phone: str) -> bool:
        found = await self.session.scalar(
            select(OptOut.id).where(
                OptOut.tenant_id == self.tenant_id, OptOut.channel == channel, OptOut.phone == phone
            )
        )
        return found is not None

    async def opted_out_among(self, channel: str, phones: list[str]) -> set[str]:
        if not phones:
            return set()
        rows = await self.session.scalars(
            select(OptOut.phone).where(
                OptOut.tenant_id == self.tenant_id, OptOut.channel == channel, OptOut.phone.in_(phones)
            )
        )
        return set(rows)

    async def add(self, channel: str, phone: str, source: str, at: datetime) -> bool:
        """Put ``phone`` on the list; False when it already was (the first entry and its source stay)."""
        dialect = self.session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        stmt = (
            insert(OptOut)
            .values(tenant_id=self.tenant_id, channel=channel, phone=phone, source=source, created_at=at)
            .on_conflict_do_nothing(index_elements=[OptOut.tenant_id, OptOut.channel, OptOut.phone])
        )
        result = await self.session.execute(stmt)
        return bool(getattr(result, "rowcount", 0))

    async def remove(self, channel: str, phone: str) -> bool:
        result = await self.session.execute(
            delete(OptOut).where(
                OptOut.tenant_id == self.tenant_id, OptOut.channel == channel, OptOut.phone == phone
            )
        )
        return bool(getattr(result, "rowcount", 0))

    async def page(
        self, *, limit: int, before_id: int | None, channel: str | None, phone: str | None
    ) -> list[OptOut]:
        stmt = select(OptOut).where(OptOut.tenant_id == self.tenant_id)
        if before_id is not None:
            stmt = stmt.where(OptOut.id < before_id)
        if channel:
            stmt = stmt.where(OptOut.channel == channel)
        if phone:
            stmt = stmt.where(OptOut.phone == phone)
        return list(await self.session.scalars(stmt.order_by(OptOut.id.desc()).limit(limit)))

    async def settings(self) -> OptOutSettings | None:
        return await self.session.get(OptOutSettings, self.tenant_id)

    def add_settings(self, row: OptOutSettings) -> None:
        row.tenant_id = self.tenant_id
        self.session.add(row)
