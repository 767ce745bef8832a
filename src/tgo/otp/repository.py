"""The OTP ledger's queries. Cross-tenant by design (a phone's limits count every tenant's OTPs), so it is
a plain class keyed by phone, used only by ``tgo.otp``; nothing in it is ever shown to a tenant."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Table, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from tgo.kit.clock import now
from tgo.models import OtpEvent, OtpPhone
from tgo.models.otp_event import OtpEventKind


class OtpLedger:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock_phone(self, phone: str) -> None:
        """Hold the phone's lock row until the transaction ends (an upsert locks the row it touches on
        PostgreSQL; SQLite transactions are already serialised by ``BEGIN IMMEDIATE``)."""
        table: Table = OtpPhone.__table__  # type: ignore[assignment]
        dialect = self.session.get_bind().dialect.name
        base: Any = (sqlite_insert if dialect == "sqlite" else pg_insert)(table)
        stmt = base.values(phone=phone, touched_at=now()).on_conflict_do_update(
            index_elements=["phone"], set_={"touched_at": base.excluded.touched_at}
        )
        await self.session.execute(stmt)

    async def prune(self, phone: str, *, before: datetime) -> None:
        """Forget the phone's events that no limit looks at any more (every window is at most a day)."""
        await self.session.execute(
            delete(OtpEvent).where(OtpEvent.phone == phone, OtpEvent.created_at < before)
        )

    async def record(
        self, *, phone: str, tenant_id: int, kind: OtpEventKind, otp_id: int | None = None
    ) -> None:
        self.session.add(
            OtpEvent(phone=phone, tenant_id=tenant_id, kind=kind, otp_id=otp_id, created_at=now())
        )
        await self.session.flush()

    async def sends(self, phone: str, *, since: datetime) -> list[tuple[int, datetime]]:
        """(tenant_id, created_at) of the OTPs that reached (or may have reached) the phone, oldest first."""
        rows = await self.session.execute(
            select(OtpEvent.tenant_id, OtpEvent.created_at)
            .where(
                OtpEvent.phone == phone,
                OtpEvent.kind == OtpEventKind.SENT,
                OtpEvent.created_at > since,
                OtpEvent.delivery_failed_at.is_(None),
            )
            .order_by(OtpEvent.created_at, OtpEvent.id)
        )
        return [(r.tenant_id, r.created_at) for r in rows]

    async def count(self, phone: str, tenant_id: int, kind: OtpEventKind, *, since: datetime) -> int:
        return int(
            await self.session.scalar(
                select(func.count()).where(
                    OtpEvent.phone == phone,
                    OtpEvent.kind == kind,
                    OtpEvent.tenant_id == tenant_id,
                    OtpEvent.created_at > since,
                )
            )
            or 0
        )

    async def latest(
        self, phone: str, tenant_id: int, kind: OtpEventKind, *, since: datetime
    ) -> datetime | None:
        return await self.session.scalar(
            select(func.max(OtpEvent.created_at)).where(
                OtpEvent.phone == phone,
                OtpEvent.kind == kind,
                OtpEvent.tenant_id == tenant_id,
                OtpEvent.created_at > since,
            )
        )

    async def mark_send_failed(self, otp_id: int, at: datetime) -> None:
        await self.session.execute(
            update(OtpEvent)
            .where(OtpEvent.otp_id == otp_id, OtpEvent.kind == OtpEventKind.SENT)
            .values(delivery_failed_at=at)
        )
