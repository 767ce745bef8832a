"""The SMS send's group commit (issue 16 item 4): accepted SMS of any tenant, written together.

``write_queued`` writes a batch of checked SMS in the batcher's transaction — one multi-row INSERT (the ids
are made before, UUIDs) — and after the commit publishes one ``sms.deliver_batch`` job with the batch's ids
(the sweeper re-publishes them if that publish fails: the rows are due from their creation)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from tgo.db import Database, after_commit
from tgo.group_commit import GroupCommit
from tgo.models.sms import SmsMessage
from tgo.runtime import runtime_of
from tgo.sms.repository import SmsOperatorRepository

log = structlog.get_logger("tgo.sms")

SmsBatcher = GroupCommit[SmsMessage, SmsMessage]


def build_sms_batcher(db: Database, *, window_ms: float, max_batch: int) -> SmsBatcher:
    """The process's SMS batcher (built by the wiring on the first send), on the send path's settings."""
    return GroupCommit(
        db.sessionmaker,
        write_queued,
        window=window_ms / 1000.0,
        max_batch=max_batch,
    )


async def write_queued(session: AsyncSession, messages: Sequence[SmsMessage]) -> list[SmsMessage]:
    """The batch's rows in the session's transaction (the batcher commits); the messages, in order."""
    await SmsOperatorRepository(session).insert_messages([row_values(m) for m in messages])
    runtime = runtime_of(session)
    ids = [m.id for m in messages]

    async def publish_job() -> None:
        if runtime is None:
            return
        from tgo.sms.jobs import publish_deliveries  # the jobs module imports the delivery flow

        try:  # one job for the batch: the worker claims and submits it set-based
            await publish_deliveries(runtime, ids)
        except Exception as exc:  # the sweeper re-publishes them; the messages are safe in the database
            log.warning("sms_publish_failed", count=len(ids), error=type(exc).__name__)

    after_commit(session, publish_job)
    return list(messages)


def row_values(message: SmsMessage) -> dict[str, Any]:
    """A new (not yet added) message's column values, as an INSERT takes them."""
    return {column.key: getattr(message, column.key) for column in SmsMessage.__table__.columns}


__all__ = ["SmsBatcher", "build_sms_batcher", "row_values", "write_queued"]
