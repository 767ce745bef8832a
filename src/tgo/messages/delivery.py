"""Delivering accepted messages through Connect, and applying Connect's receipts: worker flows that own their
transactions (the send path that accepts a message is in messages.service; a batch's delivery, which a
single message's is too, in messages.batch_delivery)."""

from __future__ import annotations

from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from tgo.messages.batch_delivery import deliver_batch
from tgo.messages.state import MessageStatus, transition
from tgo.runtime import Runtime

log = structlog.get_logger("tgo.messages")


async def deliver_message(runtime: Runtime, message_id: int) -> str:
    """One delivery attempt; idempotent (a repeated or late job finds nothing to claim). Returns what happened.
    A batch of one (``messages.batch_delivery``): the sweeper's and older publishers' one-message jobs."""
    return (await deliver_batch(runtime, [message_id]))[message_id]


async def apply_receipt(
    session: AsyncSession, business_message_id: str, status: MessageStatus, at: datetime
) -> bool:
    """A delivered/read receipt from Connect (idempotent)."""
    if not business_message_id.startswith("msg-"):
        return False
    try:
        message_id = int(business_message_id[4:])
    except ValueError:
        return False
    return await transition(session, message_id, status, at) is not None
