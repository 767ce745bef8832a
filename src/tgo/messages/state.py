"""The message state machine: queued → sent → delivered → read, or failed with a reason. Every change goes
through ``transition``: a conditional UPDATE (so concurrent or repeated events apply once), the history
row, the usage counters and the domain event, all in the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import case, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tgo import events
from tgo.db import after_commit
from tgo.messages.repository import MessageRepository, add_history_rows
from tgo.metrics import ACCEPT_TO_DELIVERED, MESSAGES_DELIVERED, MESSAGES_FAILED, MESSAGES_SENT
from tgo.models import Media, Message
from tgo.models.base import UTCDateTime
from tgo.usage.counters import bump, bump_many


class MessageStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"


M = MessageStatus
# Receipts can overtake each other (a read receipt before the delivered one), so later states accept any
# earlier one; nothing leaves read or failed.
ALLOWED_FROM: dict[MessageStatus, tuple[MessageStatus, ...]] = {
    M.SENT: (M.QUEUED,),
    M.DELIVERED: (M.QUEUED, M.SENT),
    M.READ: (M.QUEUED, M.SENT, M.DELIVERED),
    M.FAILED: (M.QUEUED,),
}
TIMESTAMP = {M.SENT: "sent_at", M.DELIVERED: "delivered_at", M.READ: "read_at", M.FAILED: "failed_at"}
EVENT = {
    M.QUEUED: events.EventType.MESSAGE_QUEUED,
    M.SENT: events.EventType.MESSAGE_SENT,
    M.DELIVERED: events.EventType.MESSAGE_DELIVERED,
    M.READ: events.EventType.MESSAGE_READ,
    M.FAILED: events.EventType.MESSAGE_FAILED,
}


async def insert_queued(
    session: AsyncSession, tenant_id: int, values: dict[str, Any], media: Media | None
) -> Message:
    """The first state: the message row, its history, usage and the ``message.queued`` event."""
    from tgo.messages.schemas import message_view

    repo = MessageRepository(session, tenant_id)
    message = await repo.insert_queued(values)  # PostgreSQL: the three rows in one statement
    if message is None:
        message = await repo.insert(values)
        await repo.add_history(message.id, M.QUEUED.value, message.queued_at)
        await bump(session, message, None, M.QUEUED)
    await events.emit(
        session, tenant_id, events.EventType.MESSAGE_QUEUED, message_view(message, media).to_dict()
    )
    return message


PATH = (M.QUEUED, M.SENT, M.DELIVERED, M.READ)


async def transition(
    session: AsyncSession,
    message_id: int,
    to: MessageStatus,
    at: datetime,
    *,
    failure_code: str | None = None,
    failure_reason: str | None = None,
    connect_message_id: int | None = None,
    detail: str | None = None,
) -> Message | None:
    """Move a message to ``to`` if its current status allows it; returns the updated row or None (no-op).

    A receipt that overtakes an earlier step (delivered before the worker recorded sent) walks through the
    skipped steps, so every status gets its timestamp, its history row and its event."""
    from tgo.messages.schemas import message_view

    message: Message | None = None
    # First, no read: guess the usual predecessor (the only one for sent and failed; sent for delivered,
    # delivered for read) and let the conditional UPDATE check it, with the later-of-two-times rule in SQL.
    # A miss on a one-predecessor target is a no-op; otherwise read the status and proceed as below.
    single = len(ALLOWED_FROM[to]) == 1
    guess: MessageStatus | None = ALLOWED_FROM[to][0] if single else None
    if guess is None and to in PATH and PATH.index(to) > 0:
        guess = PATH[PATH.index(to) - 1]
    # Optimistic: update only if the status is still the one read; if another process moved the message
    # in between (the worker marking it sent while the delivered receipt arrives), look again.
    for attempt in range(9):
        step_at: Any
        if attempt == 0 and guess is None:
            continue
        if attempt == 0 and guess is not None:
            current, step = guess, to
            bound_at = literal(at, UTCDateTime())
            step_at = case((Message.updated_at > bound_at, Message.updated_at), else_=bound_at)
        else:
            row = (
                await session.execute(
                    select(Message.status, Message.updated_at).where(Message.id == message_id)
                )
            ).first()
            if row is None or row[0] not in ALLOWED_FROM[to]:
                return message
            current = MessageStatus(row[0])
            step = to
            if to in PATH and current in PATH and PATH.index(to) - PATH.index(current) > 1:
                step = PATH[PATH.index(current) + 1]
            # Clocks of different processes disagree a little: a later state never gets an earlier time.
            step_at = max(at, row[1])
        values: dict[str, object] = {"status": step, TIMESTAMP[step]: step_at, "updated_at": step_at}
        if step != M.QUEUED:
            values["claimed_until"] = None
        if step == to and failure_code is not None:
            values["failure_code"] = failure_code
            values["failure_reason"] = (failure_reason or "")[:500]
        if connect_message_id is not None:
            values["connect_message_id"] = connect_message_id
        # RETURNING also says whether a listener has an interest in the tenant (webhooks: an active endpoint),
        # so that it can skip its own query for this event when none has (one round trip less per change).
        result = await session.execute(
            update(Message)
            .where(Message.id == message_id, Message.status == current)
            .values(**values)
            .returning(Message, events.interest(session, Message.tenant_id))
            # A step of a multi-step change returns an object the session already holds: refresh it from
            # RETURNING, or it keeps the previous step's values (a receipt that overtook lost its latency).
            .execution_options(synchronize_session=False, populate_existing=True)
        )
        updated = result.first()
        if updated is None:
            if attempt == 0 and single:  # not in the one state it can come from: a no-op
                return message
            continue
        message = updated[0]
        events.note_interest(session, message.tenant_id, bool(updated[1]))
        await MessageRepository(session, message.tenant_id).add_history(
            message_id, step.value, message.updated_at, (detail or failure_reason) if step == to else None
        )
        await bump(session, message, current, step)
        _count_after_commit(session, message, step)
        media = await session.get(Media, message.media_id) if message.media_id else None
        await events.emit(session, message.tenant_id, EVENT[step], message_view(message, media).to_dict())
        if step == to:
            return message
    return message


def _count_after_commit(session: AsyncSession, message: Message, step: MessageStatus) -> None:
    """The status metrics, counted once the change is committed (a rolled-back change never happened)."""
    if step == M.SENT:
        counter: Any = MESSAGES_SENT
    elif step == M.DELIVERED:
        counter = MESSAGES_DELIVERED
    elif step == M.FAILED:
        counter = MESSAGES_FAILED.labels(message.failure_code or "unknown")
    else:
        return
    latency = None
    if step == M.DELIVERED and message.delivered_at is not None and message.queued_at is not None:
        latency = max(0.0, (message.delivered_at - message.queued_at).total_seconds())

    async def count() -> None:
        counter.inc()
        if latency is not None:
            ACCEPT_TO_DELIVERED.observe(latency)

    after_commit(session, count)


# --- Set-based moves (issue 16: a worker's batch of results) ---------------------------------------------
# ``transition_many`` is ``transition`` for many messages at once: the same moves, timestamps, history rows,
# usage counters, metrics and one domain event per message, in a few statements per step instead of several
# per message.

# Set on the final step only, as ``transition`` does; the other fields are set on every step of a walk.
_FINAL_ONLY = ("failure_code", "failure_reason")


def _steps(to: MessageStatus) -> list[tuple[MessageStatus, MessageStatus]]:
    """The (from, to) moves that bring any message that may move to ``to`` there, in order: the skipped steps
    of the path first (a delivered receipt for a queued message walks through sent)."""
    if to in PATH:
        return [(PATH[i - 1], PATH[i]) for i in range(1, PATH.index(to) + 1)]
    return [(source, to) for source in ALLOWED_FROM[to]]


async def transition_many(
    session: AsyncSession, message_ids: Sequence[int], to: MessageStatus, at: datetime, **fields: Any
) -> list[Message]:
    """Move each of ``message_ids`` whose status allows it to ``to``; returns the messages moved to ``to``.

    ``fields`` are columns set on all of them (``failure_code``, ``failure_reason``, ``connect_message_id``):
    the same value for all, or one SQL expression evaluated per row (a ``CASE`` on ``Message.id``);
    ``detail`` is the history rows' detail (default: the failure reason). Per step, one ``UPDATE …
    RETURNING`` (rows locked in id order), one history ``INSERT`` and one usage upsert; then the events."""
    from tgo.messages.schemas import message_view

    ids = sorted(set(message_ids))
    if not ids:
        return []
    detail = fields.pop("detail", None)
    if isinstance(fields.get("failure_reason"), str):
        fields["failure_reason"] = fields["failure_reason"][:500]
    bound_at = literal(at, UTCDateTime())
    step_at = case((Message.updated_at > bound_at, Message.updated_at), else_=bound_at)
    # Locked in id order: two batches that share messages (results and receipts) never deadlock.
    locked = select(Message.id).where(Message.id.in_(ids)).order_by(Message.id).with_for_update()
    moved: list[Message] = []
    for source, step in _steps(to):
        values: dict[str, Any] = {"status": step, TIMESTAMP[step]: step_at, "updated_at": step_at}
        if step != M.QUEUED:
            values["claimed_until"] = None
        values.update({k: v for k, v in fields.items() if step == to or k not in _FINAL_ONLY})
        result = await session.execute(
            update(Message)
            .where(Message.id.in_(locked.scalar_subquery()), Message.status == source)
            .values(**values)
            .returning(Message, events.interest(session, Message.tenant_id))
            .execution_options(synchronize_session=False, populate_existing=True)
        )
        rows = result.all()
        if not rows:
            continue
        moved = [row[0] for row in rows]
        for message, interested in rows:
            events.note_interest(session, message.tenant_id, bool(interested))
        await add_history_rows(
            session,
            [
                {
                    "message_id": m.id,
                    "status": step.value,
                    "at": m.updated_at,
                    "detail": (detail or m.failure_reason) if step == to else None,
                }
                for m in moved
            ],
        )
        await bump_many(session, [(m, source.value, step.value) for m in moved])
        _count_many_after_commit(session, moved, step)
        media = await _media_of(session, moved)
        for m in moved:
            await events.emit(
                session, m.tenant_id, EVENT[step], message_view(m, media.get(m.media_id or 0)).to_dict()
            )
    return [m for m in moved if m.status == to]


async def _media_of(session: AsyncSession, messages: Sequence[Message]) -> dict[int, Media]:
    media_ids = {m.media_id for m in messages if m.media_id}
    if not media_ids:
        return {}
    return {m.id: m for m in await session.scalars(select(Media).where(Media.id.in_(media_ids)))}


def _count_many_after_commit(session: AsyncSession, messages: Sequence[Message], step: MessageStatus) -> None:
    """``_count_after_commit`` for a batch: one hook for all of its messages."""
    if step not in (M.SENT, M.DELIVERED, M.FAILED):
        return
    codes = [m.failure_code or "unknown" for m in messages] if step == M.FAILED else []
    latencies = [
        max(0.0, (m.delivered_at - m.queued_at).total_seconds())
        for m in messages
        if step == M.DELIVERED and m.delivered_at is not None and m.queued_at is not None
    ]
    count = len(messages)

    async def counted() -> None:
        if step == M.SENT:
            MESSAGES_SENT.inc(count)
        elif step == M.DELIVERED:
            MESSAGES_DELIVERED.inc(count)
        for code in codes:
            MESSAGES_FAILED.labels(code).inc()
        for latency in latencies:
            ACCEPT_TO_DELIVERED.observe(latency)

    after_commit(session, counted)
