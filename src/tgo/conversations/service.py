"""Conversations (issue 18): (tenant, sender number, contact phone), listed newest activity first, with both
directions of their messages, marked read. Never commits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from tgo.conversations.repository import ConversationRepository
from tgo.errors import NotFound, ValidationFailed
from tgo.kit.pagination import check_limit, cursor_id, decode_cursor, encode_cursor
from tgo.kit.phones import normalize_phone
from tgo.models import Conversation, Media, Message
from tgo.optouts.repository import OptOutRepository


class ConversationNotFound(NotFound):
    code = "conversation_not_found"
    message_key = "conversations.not_found"


async def _get(session: AsyncSession, tenant_id: int, conversation_id: int) -> Conversation:
    found = await ConversationRepository(session, tenant_id).get(conversation_id)
    if found is None:
        raise ConversationNotFound()
    return found


async def list_conversations(
    session: AsyncSession,
    tenant_id: int,
    *,
    limit: int | None,
    cursor: str | None,
    sender_number_id: int | None,
    unread: bool | None,
    contact_phone: str | None,
) -> tuple[list[tuple[Conversation, bool]], str | None]:
    """A page of conversations, newest activity first, each with whether its contact opted out."""
    size = check_limit(limit)
    position = decode_cursor(cursor, "id", "at")
    before = None
    if position is not None:
        try:
            at = datetime.fromisoformat(str(position["at"]))
        except (KeyError, ValueError):
            at = None
        before_id = cursor_id(position)
        if at is None or at.tzinfo is None or before_id is None:
            raise ValidationFailed({"cursor": ["This cursor is not valid."]})
        before = (at, before_id)
    phone = normalize_phone(contact_phone, "contact_phone") if contact_phone else None
    rows = await ConversationRepository(session, tenant_id).page(
        limit=size + 1,
        before=before,
        sender_number_id=sender_number_id,
        unread=unread,
        contact_phone=phone,
    )
    next_cursor = None
    if len(rows) > size:
        last = rows[size - 1]
        next_cursor = encode_cursor(id=last.id, at=last.last_message_at.isoformat())
    rows = rows[:size]
    opted = await OptOutRepository(session, tenant_id).opted_out_among(
        "connect", sorted({r.contact_phone for r in rows})
    )
    return [(r, r.contact_phone in opted) for r in rows], next_cursor


async def get_conversation(
    session: AsyncSession, tenant_id: int, conversation_id: int
) -> tuple[Conversation, bool]:
    row = await _get(session, tenant_id, conversation_id)
    return row, await OptOutRepository(session, tenant_id).is_opted_out("connect", row.contact_phone)


async def conversation_messages(
    session: AsyncSession, tenant_id: int, conversation_id: int, *, limit: int | None, cursor: str | None
) -> tuple[list[tuple[Message, Media | None]], str | None]:
    """Both directions, newest first, in keyset pages."""
    size = check_limit(limit)
    before_id = cursor_id(decode_cursor(cursor, "id"))  # a bad cursor is a 422 before any lookup
    row = await _get(session, tenant_id, conversation_id)
    rows = await ConversationRepository(session, tenant_id).messages(row, limit=size + 1, before_id=before_id)
    next_cursor = encode_cursor(id=rows[size - 1][0].id) if len(rows) > size else None
    return rows[:size], next_cursor


async def mark_read(session: AsyncSession, tenant_id: int, conversation_id: int) -> None:
    """The tenant read the conversation: its unread count goes to 0."""
    await _get(session, tenant_id, conversation_id)
    await ConversationRepository(session, tenant_id).mark_read(conversation_id)
