from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Select, Table, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tgo.kit.repository import TenantRepository
from tgo.models import Media, Message, MessageStatusEvent

# The send path's two inserts as Core statements built once (an ORM flush costs several times more CPU).
_MESSAGES = cast(Table, Message.__table__)
_INSERT_MESSAGE = insert(_MESSAGES).returning(_MESSAGES.c.id)
_INSERT_HISTORY = insert(cast(Table, MessageStatusEvent.__table__))


class MessageRepository(TenantRepository):
    async def add(self, message: Message) -> Message:
        message.tenant_id = self.tenant_id
        self.session.add(message)
        await self.session.flush()
        return message

    async def insert(self, values: dict[str, Any]) -> Message:
        """INSERT … RETURNING id; the Message returned is a plain (transient) object with those values."""
        values = {**values, "tenant_id": self.tenant_id}
        conn = await self.session.connection()
        values["id"] = (await conn.execute(_INSERT_MESSAGE, values)).scalar_one()
        return Message(**values)

    async def add_history(
        self, message_id: int, status: str, at: datetime, detail: str | None = None
    ) -> None:
        conn = await self.session.connection()
        await conn.execute(
            _INSERT_HISTORY, {"message_id": message_id, "status": status, "at": at, "detail": detail}
        )

    async def get(self, message_id: int) -> tuple[Message, Media | None] | None:
        row = (
            await self.session.execute(
                select(Message, Media)
                .outerjoin(Media, Media.id == Message.media_id)
                .where(Message.id == message_id, Message.tenant_id == self.tenant_id)
            )
        ).first()
        return (row[0], row[1]) if row else None

    async def history(self, message_id: int) -> list[MessageStatusEvent]:
        return list(
            await self.session.scalars(
                select(MessageStatusEvent)
                .where(MessageStatusEvent.message_id == message_id)
                .order_by(MessageStatusEvent.id)
            )
        )

    async def page(
        self,
        *,
        limit: int,
        before_id: int | None,
        status: str | None = None,
        sender_number_id: int | None = None,
        to_phone: str | None = None,
        message_type: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[tuple[Message, Media | None]]:
        """Newest first by id: a keyset page, stable while messages are inserted."""
        stmt: Select[Message, Media] = (
            select(Message, Media)
            .outerjoin(Media, Media.id == Message.media_id)
            .where(Message.tenant_id == self.tenant_id)
            .order_by(Message.id.desc())
            .limit(limit)
        )
        if before_id is not None:
            stmt = stmt.where(Message.id < before_id)
        if status:
            stmt = stmt.where(Message.status == status)
        if sender_number_id:
            stmt = stmt.where(Message.sender_number_id == sender_number_id)
        if to_phone:
            stmt = stmt.where(Message.to_phone == to_phone)
        if message_type:
            stmt = stmt.where(Message.message_type == message_type)
        if since:
            stmt = stmt.where(Message.queued_at >= since)
        if until:
            stmt = stmt.where(Message.queued_at < until)
        return [(r[0], r[1]) for r in (await self.session.execute(stmt)).all()]

    async def media(self, media_id: int) -> Media | None:
        return await self.session.scalar(
            select(Media).where(Media.id == media_id, Media.tenant_id == self.tenant_id)
        )


class DeliveryQueue:
    """Cross-tenant access for workers: claims, retries and the sweeper."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def claim(self, message_id: int, at: datetime, lease: timedelta) -> Message | None:
        """Take the message for one delivery attempt; None if it is not due or someone else holds it."""
        result = await self.session.execute(
            update(Message)
            .where(
                Message.id == message_id,
                Message.status == "queued",
                Message.next_attempt_at <= at,
                or_(Message.claimed_until.is_(None), Message.claimed_until < at),
            )
            .values(claimed_until=at + lease, attempts=Message.attempts + 1)
            .returning(Message)
            .execution_options(synchronize_session=False)
        )
        return result.scalar_one_or_none()

    async def release_for_retry(self, message_id: int, next_attempt_at: datetime, reason: str) -> None:
        await self.session.execute(
            update(Message)
            .where(Message.id == message_id, Message.status == "queued")
            .values(claimed_until=None, next_attempt_at=next_attempt_at, failure_reason=reason[:500])
        )

    async def by_id(self, message_id: int) -> Message | None:
        return await self.session.get(Message, message_id)


__all__ = ["DeliveryQueue", "MessageRepository"]
