"""The conversations package's Connect event handler (installed by its ``Part``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tgo.conversations.inbound import apply_received
from tgo.runtime import Runtime


async def on_message_received(session: AsyncSession, runtime: Runtime, data: dict[str, Any]) -> None:
    """Connect's ``message.received``: a contact wrote to an active sender number."""
    await apply_received(session, runtime, data)
