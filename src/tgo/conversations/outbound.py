"""A message sent to a contact moves its conversation up (the ``message.queued`` listener)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tgo import events
from tgo.conversations.repository import ConversationRepository
from tgo.events import EventType
from tgo.kit.clock import now


async def on_message_queued(
    session: AsyncSession, tenant_id: int, event_type: str, data: dict[str, Any]
) -> None:
    """Listener: touch the conversation of (sender number, recipient), if the tenant has conversations."""
    if event_type != EventType.MESSAGE_QUEUED or events.known_uninterested(session, tenant_id):
        return
    sender_number_id, to_phone = data.get("sender_number_id"), data.get("to_phone")
    if isinstance(sender_number_id, int) and isinstance(to_phone, str):
        await ConversationRepository(session, tenant_id).touch_outbound(sender_number_id, to_phone, now())
