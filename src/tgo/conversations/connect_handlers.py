"""The conversations package's Connect event handler (installed by its ``Part``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tgo.conversations.inbound import apply_received_many
from tgo.runtime import Runtime


async def on_messages_received(
    session: AsyncSession, runtime: Runtime, items: Sequence[dict[str, Any]]
) -> None:
    """Connect's ``message.received`` events (consecutive ones together): contacts wrote to active sender
    numbers."""
    await apply_received_many(session, runtime, items)
