"""Usage aggregates maintained as messages change state (never computed by scanning messages)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from tgo.models import Message, UsageCounter

# Counters are split over shards so concurrent sends from one sender do not queue on one row lock.
SHARDS = 8


async def bump(session: AsyncSession, message: Message, old: str | None, new: str) -> None:
    """Move one message from status ``old`` (None: new message) to ``new`` in its day's counters."""
    key = {
        "tenant_id": message.tenant_id,
        "sender_number_id": message.sender_number_id,
        "day": message.queued_at.date(),
        "message_type": message.message_type,
        "shard": message.id % SHARDS,
    }
    conn = await session.connection()
    stmt = _upsert(conn.dialect.name)
    if old is not None:
        # Both rows in one round trip (an executemany); the two statuses differ, so they never collide.
        await conn.execute(stmt, [{**key, "status": old, "count": -1}, {**key, "status": new, "count": 1}])
    else:
        await conn.execute(stmt, {**key, "status": new, "count": 1})


async def bump_new(session: AsyncSession, messages: list[Message], status: str) -> None:
    """Count a batch of new messages (the send path's group commit): ``bump_many`` with no old status, so a
    batch costs one upsert of at most one row per (tenant, sender, day, type, shard)."""
    await bump_many(session, [(message, None, status) for message in messages])


def count_new_messages_sql(source: str) -> str:
    """The usage part of the send path's one PostgreSQL statement: the body of a data-modifying CTE that
    counts the new messages of the CTE ``source`` (its columns tenant_id, sender_number_id, message_type,
    status, queued_at and id) in their day's counters, keyed as ``bump`` keys them (UTC day, id % SHARDS)."""
    # ``source`` is a CTE name from the code that builds the statement once, never input.
    return f"""INSERT INTO usage_counters (tenant_id, sender_number_id, day, message_type, status, shard, count)
    SELECT tenant_id, sender_number_id, (queued_at AT TIME ZONE 'UTC')::date, message_type, status,
           id % {SHARDS}, 1
    FROM {source}
    ON CONFLICT (tenant_id, sender_number_id, day, message_type, status, shard)
    DO UPDATE SET count = usage_counters.count + excluded.count"""  # noqa: S608


_UPSERTS: dict[str, Any] = {}


def _upsert(dialect: str) -> Any:
    """``INSERT … ON CONFLICT DO UPDATE SET count = count + excluded.count``, built once per dialect (a
    Core statement with parameters: no statement construction or ORM work per call)."""
    stmt = _UPSERTS.get(dialect)
    if stmt is None:
        table = cast(Table, UsageCounter.__table__)
        base = (sqlite_insert if dialect == "sqlite" else pg_insert)(table)
        stmt = base.on_conflict_do_update(
            index_elements=["tenant_id", "sender_number_id", "day", "message_type", "status", "shard"],
            set_={"count": table.c.count + base.excluded.count},
        )
        _UPSERTS[dialect] = stmt
    return stmt


async def bump_many(session: AsyncSession, moves: Sequence[tuple[Message, str | None, str]]) -> None:
    """``bump`` for a batch of moves (message, old status or None, new status): the changes summed per counter
    row, one upsert of the rows that change, in a fixed order (two batches never deadlock on them)."""
    summed: dict[tuple[Any, ...], int] = {}
    for message, old, new in moves:
        key = (
            message.tenant_id,
            message.sender_number_id,
            message.queued_at.date(),
            message.message_type,
            message.id % SHARDS,
        )
        if old is not None:
            summed[(*key, old)] = summed.get((*key, old), 0) - 1
        summed[(*key, new)] = summed.get((*key, new), 0) + 1
    rows = [
        {
            "tenant_id": k[0],
            "sender_number_id": k[1],
            "day": k[2],
            "message_type": k[3],
            "shard": k[4],
            "status": k[5],
            "count": n,
        }
        for k, n in sorted(summed.items())
        if n
    ]
    if rows:
        conn = await session.connection()
        await conn.execute(_upsert(conn.dialect.name), rows)
