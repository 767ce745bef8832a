from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from tgo.kit.repository import TenantRepository
from tgo.models import SenderNumber, UsageCounter


class UsageRepository(TenantRepository):
    async def totals(
        self, since: date | None, until: date | None, sender_number_id: int | None
    ) -> list[tuple[int, date, str, str, int]]:
        """(sender_number_id, day, message_type, status, count) summed over shards."""
        stmt = (
            select(
                UsageCounter.sender_number_id,
                UsageCounter.day,
                UsageCounter.message_type,
                UsageCounter.status,
                func.sum(UsageCounter.count),
            )
            .where(UsageCounter.tenant_id == self.tenant_id)
            .group_by(
                UsageCounter.sender_number_id,
                UsageCounter.day,
                UsageCounter.message_type,
                UsageCounter.status,
            )
        )
        if since is not None:
            stmt = stmt.where(UsageCounter.day >= since)
        if until is not None:
            stmt = stmt.where(UsageCounter.day <= until)
        if sender_number_id is not None:
            stmt = stmt.where(UsageCounter.sender_number_id == sender_number_id)
        rows = (await self.session.execute(stmt)).all()
        return [(r[0], r[1], r[2], r[3], int(r[4] or 0)) for r in rows]

    async def phones(self, ids: set[int]) -> dict[int, str]:
        if not ids:
            return {}
        rows = await self.session.execute(
            select(SenderNumber.id, SenderNumber.phone).where(
                SenderNumber.tenant_id == self.tenant_id, SenderNumber.id.in_(ids)
            )
        )
        return {r[0]: r[1] for r in rows}
