from __future__ import annotations

from datetime import datetime, timedelta

from tgo.kit.schemas import Schema
from tgo.messages.schemas import MessageView
from tgo.models import Conversation

# The customer-service window: a contact's last message opens it for 24 hours (reported, not yet enforced).
WINDOW = timedelta(hours=24)


class ConversationView(Schema):
    id: int
    sender_number_id: int
    contact_phone: str
    last_message_at: datetime
    last_inbound_at: datetime | None
    unread_count: int
    window_expires_at: datetime | None
    opted_out: bool
    created_at: datetime


class ConversationList(Schema):
    data: list[ConversationView]
    next_cursor: str | None = None


class ConversationMessages(Schema):
    data: list[MessageView]
    next_cursor: str | None = None


def conversation_view(row: Conversation, *, opted_out: bool) -> ConversationView:
    return ConversationView(
        id=row.id,
        sender_number_id=row.sender_number_id,
        contact_phone=row.contact_phone,
        last_message_at=row.last_message_at,
        last_inbound_at=row.last_inbound_at,
        unread_count=row.unread_count,
        window_expires_at=row.last_inbound_at + WINDOW if row.last_inbound_at else None,
        opted_out=opted_out,
        created_at=row.created_at,
    )
