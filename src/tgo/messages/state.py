"""The message state machine: queued → sent → delivered → read, or failed with a reason. Every change goes
through ``transition``: a conditional UPDATE (so concurrent or repeated events apply once), the history
row, the usage counters and the domain event, all in the caller's transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import case, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tgo import events
from tgo.db import after_commit
from tgo.messages.repository import MessageRepository, media_of
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


# ---------------------------------------------------------------------------------------------------------
# transition_many: ``transition`` for a set of messages (issue 16 item 3: receipts applied in batches).
# Same rules, set-based statements: one read of the statuses, one UPDATE … RETURNING per current status, one
# history insert, one usage upsert, the events through ``events.emit_many`` (webhook rows in bulk) and one
# after-commit hook for the metrics.
# ---------------------------------------------------------------------------------------------------------

TRANSITION_FIELDS = frozenset({"failure_code", "failure_reason", "connect_message_id", "detail"})


async def transition_many(
    session: AsyncSession,
    message_ids: Sequence[int],
    to: MessageStatus,
    at: datetime,
    *,
    times: Mapping[int, datetime] | None = None,
    **fields: Any,
) -> list[Message]:
    """Move each message of ``message_ids`` to ``to`` where its status allows it, exactly as ``transition``
    moves one (skipped steps walked, each with its timestamp, history row, usage count, event and metric;
    a later state never gets an earlier time); returns the messages moved, in the order given. ``times``
    gives a message its own time instead of ``at`` (receipts carry theirs); ``fields`` are ``transition``'s
    keywords (failure_code, failure_reason, connect_message_id, detail), the same for every message or an SQL expression evaluated per row (a ``CASE`` on the id)."""
    from tgo.messages.repository import AcceptedBatch

    unknown = set(fields) - TRANSITION_FIELDS
    if unknown:
        raise TypeError(f"transition_many: unknown fields {sorted(unknown)}")
    times = times or {}
    pending = list(dict.fromkeys(message_ids))
    moved: dict[int, tuple[Message, MessageStatus, tuple[MessageStatus, ...]]] = {}
    # Optimistic, as ``transition``: a message another process moved between the read and the UPDATE is
    # read again (a few rounds at most).
    for _round in range(9):
        if not pending:
            break
        rows = (
            await session.execute(
                select(Message.id, Message.status, Message.updated_at)
                .where(Message.id.in_(pending))
                # Locked in id order: the worker's results and Connect's receipts, two batches that can share
                # messages, never deadlock on them (SQLite has one writer and ignores it).
                .order_by(Message.id)
                .with_for_update()
            )
        ).all()
        groups: dict[MessageStatus, list[tuple[int, datetime]]] = {}
        for message_id, status, updated_at in rows:
            if status in ALLOWED_FROM[to]:
                groups.setdefault(MessageStatus(status), []).append((message_id, updated_at))
        pending = []
        for current, members in groups.items():
            steps = _steps(current, to)
            updated = await _update_group(session, current, to, steps, members, at, times, fields)
            for message, _ in updated:
                moved[message.id] = (message, current, steps)
            done = {m.id for m, _ in updated}
            pending.extend(i for i, _ in members if i not in done)
            for message, interested in updated:
                events.note_interest(session, message.tenant_id, interested)
    if not moved:
        return []
    ordered = [moved[i] for i in dict.fromkeys(message_ids) if i in moved]
    detail = fields.get("detail")
    reason = fields.get("failure_reason")

    def detail_of(m: Message) -> str | None:
        # As ``transition``: the detail given, else the reason given (a per-row reason: the row's own).
        if detail or isinstance(reason, str):
            return str(detail or reason)
        return m.failure_reason if reason is not None else None

    await AcceptedBatch(session).add_history(
        [
            {
                "message_id": m.id,
                "status": step.value,
                "at": m.updated_at,
                "detail": detail_of(m) if step == to else None,
            }
            for m, _current, steps in ordered
            for step in steps
        ]
    )
    await bump_many(session, [(m, current.value, to.value) for m, current, _ in ordered])
    _count_many_after_commit(session, ordered)
    await events.emit_many(session, await _events_of(session, ordered))
    return [m for m, _, _ in ordered]


def _steps(current: MessageStatus, to: MessageStatus) -> tuple[MessageStatus, ...]:
    """The statuses a message passes through from ``current`` to ``to`` (a receipt that overtook a step)."""
    if to in PATH and current in PATH:
        return PATH[PATH.index(current) + 1 : PATH.index(to) + 1]
    return (to,)


async def _update_group(
    session: AsyncSession,
    current: MessageStatus,
    to: MessageStatus,
    steps: tuple[MessageStatus, ...],
    members: list[tuple[int, datetime]],
    at: datetime,
    times: Mapping[int, datetime],
    fields: Mapping[str, Any],
) -> list[tuple[Message, bool]]:
    """One UPDATE … RETURNING for the messages still in ``current``: every step's timestamp at once."""
    # Clocks of different processes disagree a little: a later state never gets an earlier time.
    step_at = {i: max(times.get(i, at), updated_at) for i, updated_at in members}
    distinct = set(step_at.values())
    when: Any
    if len(distinct) == 1:
        when = literal(next(iter(distinct)), UTCDateTime())
    else:
        when = case(
            *[(Message.id == i, literal(value, UTCDateTime())) for i, value in step_at.items()],
            else_=Message.updated_at,
        )
    values: dict[str, Any] = {"status": to, "updated_at": when, "claimed_until": None}
    for step in steps:
        values[TIMESTAMP[step]] = when
    if fields.get("failure_code") is not None:
        values["failure_code"] = fields["failure_code"]
        reason = fields.get("failure_reason")
        reason = "" if reason is None else reason
        # A reason is one string for all, or an SQL expression per row (a CASE on the id, cut by its caller).
        values["failure_reason"] = reason[:500] if isinstance(reason, str) else reason
    if fields.get("connect_message_id") is not None:
        values["connect_message_id"] = fields["connect_message_id"]
    result = await session.execute(
        update(Message)
        .where(Message.id.in_(list(step_at)), Message.status == current)
        .values(**values)
        .returning(Message, events.interest(session, Message.tenant_id))
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    return [(row[0], bool(row[1])) for row in result.all()]


async def _events_of(
    session: AsyncSession, moved: list[tuple[Message, MessageStatus, tuple[MessageStatus, ...]]]
) -> list[tuple[int, events.EventType, dict[str, Any]]]:
    """One event per step per message, each showing the message as it was at that step."""
    from tgo.messages.schemas import message_view

    media = await media_of(session, (m for m, _, _ in moved))
    out: list[tuple[int, events.EventType, dict[str, Any]]] = []
    for message, _current, steps in moved:
        view = message_view(message, media.get(message.media_id) if message.media_id else None).to_dict()
        for n, step in enumerate(steps):
            shown = view
            if step != steps[-1]:
                # An intermediate step: its status, and none of the later steps' times yet.
                shown = {**view, "status": step.value}
                for later in steps[n + 1 :]:
                    shown[TIMESTAMP[later]] = None
            out.append((message.tenant_id, EVENT[step], shown))
    return out


def _count_many_after_commit(
    session: AsyncSession, moved: list[tuple[Message, MessageStatus, tuple[MessageStatus, ...]]]
) -> None:
    """``_count_after_commit`` for a set: the counters and latencies observed in one after-commit hook."""
    counts: list[Any] = []
    latencies: list[float] = []
    for message, _current, steps in moved:
        for step in steps:
            if step == M.SENT:
                counts.append(MESSAGES_SENT)
            elif step == M.DELIVERED:
                counts.append(MESSAGES_DELIVERED)
                if message.delivered_at is not None and message.queued_at is not None:
                    latencies.append(max(0.0, (message.delivered_at - message.queued_at).total_seconds()))
            elif step == M.FAILED:
                counts.append(MESSAGES_FAILED.labels(message.failure_code or "unknown"))
    if not counts:
        return

    async def count() -> None:
        for counter in counts:
            counter.inc()
        for latency in latencies:
            ACCEPT_TO_DELIVERED.observe(latency)

    after_commit(session, count)
