from __future__ import annotations

from typing import Any

from sqlalchemy import Row, Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from tgo.kit.repository import TenantRepository
from tgo.models import SenderNumber

_SEND_CHECK_COLUMNS = (
    SenderNumber.id,
    SenderNumber.phone,
    SenderNumber.status,
    SenderNumber.verification_status,
)


class SenderNumberRepository(TenantRepository):
    async def send_check(
        self, *, number_id: int | None, phone: str | None, extra: Any = None
    ) -> Row[Any] | None:
        """(id, phone, status, verification_status[, extra]) of a live number, by id or phone — the columns
        the send path checks, as one Core row (no ORM entity to build on every send)."""
        columns: list[Any] = [*_SEND_CHECK_COLUMNS]
        if extra is not None:
            columns.append(extra)
        stmt = select(*columns).where(
            SenderNumber.tenant_id == bindparam("tenant_id"), SenderNumber.deleted_at.is_(None)
        )
        if number_id is not None:
            stmt = stmt.where(SenderNumber.id == bindparam("key"))
        else:
            stmt = stmt.where(SenderNumber.phone == bindparam("key"))
        conn = await self.session.connection()
        result = await conn.execute(
            stmt.limit(1), {"tenant_id": self.tenant_id, "key": number_id if number_id is not None else phone}
        )
        return result.first()

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

    async def proven_phone(self, phone: str) -> bool:
        """Whether ``phone`` is a live number of this tenant whose OTP was accepted (its owner proved it is
        theirs): a registration alone proves nothing, any tenant may register any Connect phone."""
        found = await self.session.scalar(
            self._live()
            .with_only_columns(SenderNumber.id)
            .where(SenderNumber.phone == phone, SenderNumber.otp_verified_at.is_not(None))
            .limit(1)
        )
        return found is not None

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

    async def active(self, phone: str) -> list[SenderNumber]:
        """Every tenant's active registration of ``phone`` (where what its owner's contacts write goes)."""
        stmt = (
            select(SenderNumber)
            .where(
                SenderNumber.phone == phone,
                SenderNumber.deleted_at.is_(None),
                SenderNumber.status == "active",
            )
            .order_by(SenderNumber.id)
        )
        return list(await self.session.scalars(stmt))

    async def active_phones(self) -> list[str]:
        """Every phone that is some tenant's active sender number."""
        stmt = (
            select(SenderNumber.phone)
            .where(SenderNumber.deleted_at.is_(None), SenderNumber.status == "active")
            .distinct()
            .order_by(SenderNumber.phone)
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
