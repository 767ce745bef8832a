"""Every query of mobile-originated SMS (issue 18): the active number senders a handset can write to (across
tenants: the SMSC names only the number) and a tenant's received SMS."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime

from sqlalchemy import func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from tgo.kit.repository import TenantRepository
from tgo.models import SmsInboundMessage, SmsSender

NUMBER_TYPES = ("long_code", "toll_free", "short_code")


class SmsInboundRouting:
    """Cross-tenant: which tenants' active senders are the number an SMS was written to."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def active_senders_for(self, destination: str) -> list[SmsSender]:
        forms = {destination, destination.lstrip("+"), "+" + destination.lstrip("+")}
        stmt = (
            select(SmsSender)
            .where(
                SmsSender.sender_id.in_(sorted(forms)),
                SmsSender.sender_type.in_(NUMBER_TYPES),
                SmsSender.status == "active",
            )
            .order_by(SmsSender.created_at)
        )
        return list(await self.session.scalars(stmt))

    async def lock_handset(self, source: str, destination: str) -> None:
        """On PostgreSQL, a transaction lock on (handset, number): an SMS redelivered on another bind while
        the first copy is being stored waits, then finds it (SQLite's BEGIN IMMEDIATE already serialises)."""
        conn = await self.session.connection()
        if conn.dialect.name == "postgresql":
            digest = hashlib.blake2b(f"sms-mo:{destination}:{source}".encode(), digest_size=8).digest()
            await conn.execute(select(func.pg_advisory_xact_lock(int.from_bytes(digest, "big", signed=True))))


class SmsInboundRepository(TenantRepository):
    async def add(self, row: SmsInboundMessage) -> SmsInboundMessage:
        row.tenant_id = self.tenant_id
        self.session.add(row)
        await self.session.flush()
        return row

    async def received_since(self, sender_id: uuid.UUID, from_phone: str, body: str, since: datetime) -> bool:
        """Whether this very SMS (handset, number, text) was stored at or after ``since``."""
        found = await self.session.scalar(
            select(SmsInboundMessage.id)
            .where(
                SmsInboundMessage.tenant_id == self.tenant_id,
                SmsInboundMessage.received_at >= since,
                SmsInboundMessage.sender_id == sender_id,
                SmsInboundMessage.from_phone == from_phone,
                SmsInboundMessage.body == body,
            )
            .limit(1)
        )
        return found is not None

    async def page(
        self, limit: int, before: tuple[datetime, uuid.UUID] | None, sender_id: uuid.UUID | None
    ) -> list[SmsInboundMessage]:
        stmt = select(SmsInboundMessage).where(SmsInboundMessage.tenant_id == self.tenant_id)
        if before is not None:
            stmt = stmt.where(tuple_(SmsInboundMessage.received_at, SmsInboundMessage.id) < tuple_(*before))
        if sender_id is not None:
            stmt = stmt.where(SmsInboundMessage.sender_id == sender_id)
        stmt = stmt.order_by(SmsInboundMessage.received_at.desc(), SmsInboundMessage.id.desc()).limit(limit)
        return list(await self.session.scalars(stmt))
