"""The message sweeper: re-publishes delivery jobs that may be lost (a crash between commit and publish, a
broker outage, a worker killed holding a claim) and retries that are due.

Each row it publishes is stamped (``claimed_until = now``, already expired, so the job claims it at once) and
is not published again for ``sweeper_stale_seconds``: without the stamp every sweep re-published every
waiting row, so a backlog of jobs in the broker grew by the whole backlog on each tick. (Asking RabbitMQ how
many jobs its queue holds, to skip rows whose job is merely waiting, was tried: a quorum queue's count in a
passive declare can stay stale for minutes, and rows whose job was lost then waited that long.)"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tgo.kit.clock import now
from tgo.models import Message
from tgo.runtime import Runtime
from tgo.worker.registry import publish

log = structlog.get_logger("tgo.messages.sweeper")

BATCH = 2000


def _waiting(at: datetime) -> Any:
    return and_(Message.status == "queued", Message.next_attempt_at <= at)


def _never_attempted(stale_before: datetime) -> Any:
    return and_(Message.attempts == 0, Message.claimed_until.is_(None), Message.queued_at < stale_before)


def _retry_or_abandoned(stale_before: datetime) -> Any:
    # A due retry (released with no claim), or a claim or a sweep stamp older than the stale time (a worker
    # died holding it, or its job was lost).
    return or_(
        and_(Message.attempts > 0, Message.claimed_until.is_(None)),
        Message.claimed_until < stale_before,
    )


async def take_due(
    session: AsyncSession, at: datetime, stale_before: datetime, *, include_never_attempted: bool, limit: int
) -> list[int]:
    """Rows to re-publish, stamped so that the next sweeps leave them alone for the stale time."""
    which = _retry_or_abandoned(stale_before)
    if include_never_attempted:
        which = or_(which, _never_attempted(stale_before))
    candidates = select(Message.id).where(_waiting(at), which).order_by(Message.next_attempt_at).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        # Two sweepers (two worker processes) take disjoint rows instead of queueing on each other's.
        candidates = candidates.with_for_update(skip_locked=True)
    ids = list(await session.scalars(candidates))
    if not ids:
        return []
    stamped = await session.execute(
        update(Message)
        .where(Message.id.in_(ids), _waiting(at), which)
        .values(claimed_until=at)
        .returning(Message.id)
        .execution_options(synchronize_session=False)
    )
    return list(stamped.scalars())


async def sweep(runtime: Runtime) -> int:
    """Re-publish messages whose job may be lost or whose retry is due; returns how many."""
    at = now()
    stale_before = at - timedelta(seconds=runtime.settings.sweeper_stale_seconds)
    async with runtime.db.session_scope() as s:
        ids = await take_due(s, at, stale_before, include_never_attempted=True, limit=BATCH)
    if ids:  # re-publishing is the exception (a crash, an outage, a retry): worth a line in the log
        log.warning("sweep_republish", count=len(ids))
    for n, message_id in enumerate(ids):
        try:
            await publish(runtime, "messages.deliver", {"id": message_id})
        except Exception as exc:  # the broker is down: the stamp expires and a later sweep tries again
            log.warning("sweep_publish_failed", published=n, left=len(ids) - n, error=type(exc).__name__)
            break
    return len(ids)
