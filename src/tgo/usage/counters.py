"""Usage aggregates maintained as messages change state (never computed by scanning messages)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from tgo.models import Message, UsageCounter

# Counters are split over shards so concurrent sends from one sender do not queue on one row lock.
SHARDS = 8


async def bump(session: AsyncSession, message: Message, old: str | None, new: str) -> None:
    """Move one message from status ``old`` (None: new message) to ``new`` in its day's counters."""
    day = message.queued_at.date()
    shard = message.id % SHARDS
    key = {
        "tenant_id": message.tenant_id,
        "sender_number_id": message.sender_number_id,
        "day": day,
        "message_type": message.message_type,
        "shard": shard,
    }
    if old is not None:
        await _add(session, {**key, "status": old}, -1)
    await _add(session, {**key, "status": new}, 1)


async def _add(session: AsyncSession, row: dict[str, Any], delta: int) -> None:
    dialect = session.bind.dialect.name if session.bind is not None else "postgresql"
    insert = sqlite_insert if dialect == "sqlite" else pg_insert
    stmt = insert(UsageCounter).values(**row, count=delta)
    stmt = stmt.on_conflict_do_update(
        index_elements=["tenant_id", "sender_number_id", "day", "message_type", "status", "shard"],
        set_={"count": UsageCounter.count + delta},
    )
    await session.execute(stmt)
