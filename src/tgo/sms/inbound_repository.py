"""Every query of mobile-originated SMS (issue 18): the active number senders a handset can write to (across
tenants: the SMSC names only the number) and a tenant's received SMS."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, tuple_
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


class SmsInboundRepository(TenantRepository):
    async def add(self, row: SmsInboundMessage) -> SmsInboundMessage:
        row.tenant_id = self.tenant_id
        self.session.add(row)
        await self.session.flush()
        return row

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
