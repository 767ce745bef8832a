"""Every query of conversations and of a conversation's messages (tenant-bound)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, and_, exists, insert, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from tgo.kit.repository import TenantRepository
from tgo.models import Conversation, Media, Message


def any_conversation(tenant_id: Any) -> ColumnElement[bool]:
    """``EXISTS`` a conversation of the tenant: the outbound listener's interest (``tgo.events``), so a send
    of a tenant that never received a message skips the conversation update."""
    return exists().where(Conversation.tenant_id == tenant_id)


_MESSAGES = cast(Table, Message.__table__)
_CONVERSATIONS = cast(Table, Conversation.__table__)
_UPSERTS: dict[str, Any] = {}


def _upsert_inbound(dialect: str) -> Any:
    """``INSERT … ON CONFLICT DO UPDATE … RETURNING`` of conversations (more unread messages), per dialect."""
    if dialect not in _UPSERTS:
        c = _CONVERSATIONS.c
        stmt = (pg_insert if dialect == "postgresql" else sqlite_insert)(_CONVERSATIONS)
        _UPSERTS[dialect] = stmt.on_conflict_do_update(
            index_elements=[c.tenant_id, c.sender_number_id, c.contact_phone],
            set_={
                "unread_count": c.unread_count + stmt.excluded.unread_count,
                "last_message_at": stmt.excluded.last_message_at,
                "last_inbound_at": stmt.excluded.last_inbound_at,
            },
        ).returning(c.id, c.sender_number_id, c.contact_phone)
    return _UPSERTS[dialect]


# Many inbound messages in one statement ("insertmanyvalues"), their ids in the rows' order.
_INSERT_MESSAGES = insert(_MESSAGES).returning(_MESSAGES.c.id, sort_by_parameter_order=True)


class ConversationRepository(TenantRepository):
    async def upsert_inbound_many(
        self, counts: Sequence[tuple[int, str, int, datetime]]
    ) -> dict[tuple[int, str], int]:
        """``upsert_inbound`` for several conversations at once: (sender number id, contact phone, new
        messages, at) each, one statement; returns each conversation's id by (sender number id, contact)."""
        if not counts:
            return {}
        # Sorted: two batches upserting the same conversations lock them in the same order.
        rows = [
            {
                "tenant_id": self.tenant_id,
                "sender_number_id": number_id,
                "contact_phone": phone,
                "last_message_at": at,
                "last_inbound_at": at,
                "unread_count": n,
                "created_at": at,
            }
            for number_id, phone, n, at in sorted(counts, key=lambda c: (c[0], c[1]))
        ]
        conn = await self.session.connection()
        # One statement built once and executed with the rows as parameters ("insertmanyvalues" sends them
        # as one multi-row INSERT): a ``.values(rows)`` statement was compiled anew for every batch size.
        result = await conn.execute(_upsert_inbound(conn.dialect.name), rows)
        return {(int(r[1]), str(r[2])): int(r[0]) for r in result.all()}

    async def insert_messages(self, rows: list[dict[str, Any]]) -> list[int]:
        """Inbound messages (column values) in one multi-row INSERT; their ids in the rows' order."""
        conn = await self.session.connection()
        rows = [{**row, "tenant_id": self.tenant_id} for row in rows]
        return list((await conn.execute(_INSERT_MESSAGES, rows)).scalars())

    async def upsert_inbound(self, sender_number_id: int, contact_phone: str, at: datetime) -> int:
        """The conversation of (sender number, contact), created on its first inbound message; one more
        unread message. Returns its id (an upsert: two inbound messages at once count twice)."""
        dialect = self.session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        stmt = insert(Conversation).values(
            tenant_id=self.tenant_id,
            sender_number_id=sender_number_id,
            contact_phone=contact_phone,
            last_message_at=at,
            last_inbound_at=at,
            unread_count=1,
            created_at=at,
        )
        upsert = stmt.on_conflict_do_update(
            index_elements=[
                Conversation.tenant_id,
                Conversation.sender_number_id,
                Conversation.contact_phone,
            ],
            set_={
                "unread_count": Conversation.unread_count + 1,
                "last_message_at": at,
                "last_inbound_at": at,
            },
        ).returning(Conversation.id)
        return int((await self.session.execute(upsert)).scalar_one())

    async def touch_outbound(self, sender_number_id: int, contact_phone: str, at: datetime) -> None:
        """A message to the contact: the conversation (if there is one) moves up."""
        await self.session.execute(
            update(Conversation)
            .where(
                Conversation.tenant_id == self.tenant_id,
                Conversation.sender_number_id == sender_number_id,
                Conversation.contact_phone == contact_phone,
            )
            .values(last_message_at=at)
        )

    async def get(self, conversation_id: int) -> Conversation | None:
        return await self.session.scalar(
            select(Conversation).where(
                Conversation.id == conversation_id, Conversation.tenant_id == self.tenant_id
            )
        )

    async def page(
        self,
        *,
        limit: int,
        before: tuple[datetime, int] | None,
        sender_number_id: int | None,
        unread: bool | None,
        contact_phone: str | None,
    ) -> list[Conversation]:
        """Newest activity first, a keyset page on (last_message_at, id)."""
        stmt = select(Conversation).where(Conversation.tenant_id == self.tenant_id)
        if before is not None:
            stmt = stmt.where(tuple_(Conversation.last_message_at, Conversation.id) < tuple_(*before))
        if sender_number_id is not None:
            stmt = stmt.where(Conversation.sender_number_id == sender_number_id)
        if unread is True:
            stmt = stmt.where(Conversation.unread_count > 0)
        elif unread is False:
            stmt = stmt.where(Conversation.unread_count == 0)
        if contact_phone is not None:
            stmt = stmt.where(Conversation.contact_phone == contact_phone)
        stmt = stmt.order_by(Conversation.last_message_at.desc(), Conversation.id.desc()).limit(limit)
        return list(await self.session.scalars(stmt))

    async def mark_read(self, conversation_id: int) -> None:
        await self.session.execute(
            update(Conversation)
            .where(Conversation.id == conversation_id, Conversation.tenant_id == self.tenant_id)
            .values(unread_count=0)
        )

    async def messages(
        self, conversation: Conversation, *, limit: int, before_id: int | None
    ) -> list[tuple[Message, Media | None]]:
        """Both directions, newest first: what the contact wrote to the number and what it sent them."""
        stmt = (
            select(Message, Media)
            .outerjoin(Media, Media.id == Message.media_id)
            .where(
                Message.tenant_id == self.tenant_id,
                Message.sender_number_id == conversation.sender_number_id,
                or_(
                    and_(Message.direction == "inbound", Message.from_phone == conversation.contact_phone),
                    and_(Message.direction == "outbound", Message.to_phone == conversation.contact_phone),
                ),
            )
            .order_by(Message.id.desc())
            .limit(limit)
        )
        if before_id is not None:
            stmt = stmt.where(Message.id < before_id)
        return [(r[0], r[1]) for r in (await self.session.execute(stmt)).all()]

    async def add_message(self, message: Message) -> Message:
        message.tenant_id = self.tenant_id
        self.session.add(message)
        await self.session.flush()
        return message

    async def add_media(self, media: Media) -> Media:
        media.tenant_id = self.tenant_id
        self.session.add(media)
        await self.session.flush()
        return media
