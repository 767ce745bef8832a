from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypedDict, Unpack, cast

from sqlalchemy import Select, Table, and_, case, func, insert, or_, select, text, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from tgo.kit.repository import TenantRepository
from tgo.models import Media, Message, MessageStatusEvent, SenderNumber, Tenant
from tgo.usage.counters import count_new_messages_sql

# The send path's two inserts as Core statements built once (an ORM flush costs several times more CPU).
_MESSAGES = cast(Table, Message.__table__)
_INSERT_MESSAGE = insert(_MESSAGES).returning(_MESSAGES.c.id)
_INSERT_HISTORY = insert(cast(Table, MessageStatusEvent.__table__))
# The group commit's multi-row INSERT: SQLAlchemy's "insertmanyvalues" sends the rows as one statement and
# returns the ids in the parameters' order (sort_by_parameter_order), on PostgreSQL and SQLite alike.
_INSERT_MESSAGES = insert(_MESSAGES).returning(_MESSAGES.c.id, sort_by_parameter_order=True)
# SQLite's dialect has no sentinel to keep RETURNING in the parameters' order, so there "insertmanyvalues"
# falls back to one INSERT per row (measured: 1.19 INSERTs per accepted message). The batch's transaction
# holds the write lock from its start (BEGIN IMMEDIATE), so the ids SQLite would give the rows are known:
# max(id) + 1, + 2, ... in the rows' order (messages has no AUTOINCREMENT); they go in one executemany.
_NEXT_MESSAGE_ID = select(func.coalesce(func.max(_MESSAGES.c.id), 0) + 1)
_INSERT_MESSAGES_WITH_IDS = insert(_MESSAGES)


# PostgreSQL: a new message, its queued history row and its usage count in one statement (data-modifying
# CTEs), one round trip instead of three; the usage part is the usage package's (it owns its counters).
# The other dialects run the three statements.
_PG_INSERT_QUEUED = text(
    f"""
WITH m AS (
    INSERT INTO messages (tenant_id, sender_number_id, sender_phone, to_phone, message_type, content, caption,
                          media_id, duration, status, attempts, next_attempt_at, queued_at, updated_at)
    VALUES (:tenant_id, :sender_number_id, :sender_phone, :to_phone, :message_type, :content, :caption,
            :media_id, :duration, :status, :attempts, :next_attempt_at, :queued_at, :updated_at)
    RETURNING id, tenant_id, sender_number_id, message_type, status, queued_at
), h AS (
    INSERT INTO message_status_events (message_id, status, at) SELECT id, status, queued_at FROM m
), u AS (
    {count_new_messages_sql("m")}
)
SELECT id FROM m
"""  # noqa: S608 (built once, from constants)
)


class MessageFilters(TypedDict, total=False):
    """The message log's filters (``MessageRepository.page`` and ``count``); each one given (not empty)
    narrows the log."""

    direction: str | None
    status: str | None
    sender_number_id: int | None
    to_phone: str | None
    message_type: str | None
    since: datetime | None  # queued at or after
    until: datetime | None  # queued before
    search: str | None  # see _search


class MessageRepository(TenantRepository):
    async def add(self, message: Message) -> Message:
        message.tenant_id = self.tenant_id
        self.session.add(message)
        await self.session.flush()
        return message

    async def insert(self, values: dict[str, Any]) -> Message:
        """INSERT … RETURNING id; the Message returned is a plain (transient) object with those values."""
        values = {**values, "tenant_id": self.tenant_id}
        conn = await self.session.connection()
        values["id"] = (await conn.execute(_INSERT_MESSAGE, values)).scalar_one()
        return Message(**values)

    async def insert_queued(self, values: dict[str, Any]) -> Message | None:
        """PostgreSQL only: the message with its history row and usage count (see _PG_INSERT_QUEUED);
        None on other dialects (the caller runs ``insert``, ``add_history`` and ``bump``)."""
        conn = await self.session.connection()
        if conn.dialect.name != "postgresql":
            return None
        values = {**values, "tenant_id": self.tenant_id}
        values["id"] = (await conn.execute(_PG_INSERT_QUEUED, values)).scalar_one()
        return Message(**values)

    async def add_history(
        self, message_id: int, status: str, at: datetime, detail: str | None = None
    ) -> None:
        conn = await self.session.connection()
        await conn.execute(
            _INSERT_HISTORY, {"message_id": message_id, "status": status, "at": at, "detail": detail}
        )

    async def get(self, message_id: int) -> tuple[Message, Media | None] | None:
        row = (
            await self.session.execute(
                select(Message, Media)
                .outerjoin(Media, Media.id == Message.media_id)
                .where(Message.id == message_id, Message.tenant_id == self.tenant_id)
            )
        ).first()
        return (row[0], row[1]) if row else None

    async def history(self, message_id: int) -> list[MessageStatusEvent]:
        return list(
            await self.session.scalars(
                select(MessageStatusEvent)
                .where(MessageStatusEvent.message_id == message_id)
                .order_by(MessageStatusEvent.id)
            )
        )

    async def page(
        self,
        *,
        limit: int,
        before_id: int | None,
        before_queued_at: datetime | None = None,
        **filters: Unpack[MessageFilters],
    ) -> list[tuple[Message, Media | None]]:
        """Newest first: a keyset page, stable while messages are inserted. By id; with a time range by
        (queued_at, id), so that the (tenant_id, queued_at, id) index finds the range's newest rows at once
        instead of walking every newer row by id (the page's cost stays flat as the log grows)."""
        by_time = filters.get("since") is not None or filters.get("until") is not None
        stmt: Select[Message, Media] = (
            select(Message, Media)
            .outerjoin(Media, Media.id == Message.media_id)
            .where(Message.tenant_id == self.tenant_id)
            .order_by(*((Message.queued_at.desc(), Message.id.desc()) if by_time else (Message.id.desc(),)))
            .limit(limit)
        )
        if before_id is not None and by_time and before_queued_at is not None:
            stmt = stmt.where(tuple_(Message.queued_at, Message.id) < tuple_(before_queued_at, before_id))
        elif before_id is not None:
            stmt = stmt.where(Message.id < before_id)
        stmt = stmt.where(*_where(filters))
        return [(r[0], r[1]) for r in (await self.session.execute(stmt)).all()]

    async def count(self, **filters: Unpack[MessageFilters]) -> int:
        """How many of the tenant's messages match the filters (those of ``page``)."""
        stmt = select(func.count()).select_from(Message).where(Message.tenant_id == self.tenant_id)
        return int(await self.session.scalar(stmt.where(*_where(filters))) or 0)


# The filters that ask for a column's value, in the order their conditions are written.
_EQUALS: dict[str, Any] = {
    "direction": Message.direction,
    "status": Message.status,
    "sender_number_id": Message.sender_number_id,
    "to_phone": Message.to_phone,
    "message_type": Message.message_type,
}


def _where(filters: MessageFilters) -> list[Any]:
    """The conditions of ``filters`` (the one place the log's filters become SQL)."""
    unknown = set(filters) - MessageFilters.__optional_keys__
    if unknown:
        raise TypeError(f"unknown message filters: {', '.join(sorted(unknown))}")
    given: dict[str, Any] = dict(filters)
    where: list[Any] = [column == given[name] for name, column in _EQUALS.items() if given.get(name)]
    if since := filters.get("since"):
        where.append(Message.queued_at >= since)
    if until := filters.get("until"):
        where.append(Message.queued_at < until)
    if search := filters.get("search"):
        where.append(_search(search))
    return where


def _search(text: str) -> Any:
    """The message with that id, or a part of either phone number, or of the text or caption (any case;
    ``%`` and ``_`` match themselves)."""
    matches = [
        Message.content.icontains(text, autoescape=True),
        Message.caption.icontains(text, autoescape=True),
    ]
    digits = text.replace(" ", "").replace("-", "")
    if digits.lstrip("+").isdigit():
        matches += [
            Message.to_phone.contains(digits, autoescape=True),
            Message.sender_phone.contains(digits, autoescape=True),
        ]
        wanted = int(digits.lstrip("+"))
        if not digits.startswith("+") and wanted <= 2**63 - 1:
            matches.append(Message.id == wanted)
    return or_(*matches)


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


def _by_id(claimed: tuple[Message, str]) -> int:
    return claimed[0].id


class AcceptedBatch:
    """Cross-tenant writes of the send path's group commit (each row carries its tenant_id, set by the
    tenant-bound check that accepted it): a batch of new messages and their queued history rows."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def insert(self, rows: list[dict[str, Any]]) -> list[int]:
        """One multi-row INSERT … RETURNING id (SQLite: the next ids read, one executemany); the ids in the
        rows' order."""
        conn = await self.session.connection()
        if conn.dialect.name == "sqlite":
            first = int((await conn.execute(_NEXT_MESSAGE_ID)).scalar_one())
            ids = list(range(first, first + len(rows)))
            await conn.execute(
                _INSERT_MESSAGES_WITH_IDS, [{**row, "id": i} for row, i in zip(rows, ids, strict=True)]
            )
            return ids
        return list((await conn.execute(_INSERT_MESSAGES, rows)).scalars())

    async def add_history(self, rows: list[dict[str, Any]]) -> None:
        await add_history_rows(self.session, rows)


async def add_history_rows(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Status history rows of any tenants' messages (each row names its message), in one executemany."""
    if rows:
        conn = await session.connection()
        await conn.execute(_INSERT_HISTORY, rows)


async def media_of(session: AsyncSession, messages: Iterable[Message]) -> dict[int, Media]:
    """The media of ``messages`` (already read, of any tenants: each names its own media), by media id; one
    query for the set, none when no message has media."""
    media_ids = {m.media_id for m in messages if m.media_id}
    if not media_ids:
        return {}
    return {m.id: m for m in await session.scalars(select(Media).where(Media.id.in_(media_ids)))}


class DeliveryQueue:
    """Cross-tenant access for workers: claims, retries and the sweeper."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def claim(self, message_id: int, at: datetime, lease: timedelta) -> tuple[Message, str] | None:
        """Take the message for one delivery attempt; None if it is not due or someone else holds it. With
        it, the name the recipient sees: the number's display name, else the tenant's (same statement)."""
        claimed = await self._claim(Message.id == message_id, at, lease)
        return claimed[0] if claimed else None

    async def claim_many(
        self, message_ids: Sequence[int], at: datetime, lease: timedelta
    ) -> list[tuple[Message, str]]:
        """``claim`` for a batch, in one statement: the messages of ``message_ids`` that are due and free
        (the others — delivered, held by another worker, a duplicate job's — are left alone), by id."""
        if not message_ids:
            return []
        return sorted(await self._claim(Message.id.in_(sorted(set(message_ids))), at, lease), key=_by_id)

    async def release_many_for_retry(self, next_attempt_at: dict[int, datetime], reason: str) -> None:
        """``release_for_retry`` for a batch, in one statement: each message's own next attempt time."""
        if not next_attempt_at:
            return
        times = set(next_attempt_at.values())
        when: Any = (
            next(iter(times))
            if len(times) == 1
            else case(next_attempt_at, value=Message.id, else_=Message.next_attempt_at)
        )
        await self.session.execute(
            update(Message)
            .where(Message.id.in_(sorted(next_attempt_at)), Message.status == "queued")
            .values(claimed_until=None, next_attempt_at=when, failure_reason=reason[:500])
            .execution_options(synchronize_session=False)
        )

    async def _claim(self, which: Any, at: datetime, lease: timedelta) -> list[tuple[Message, str]]:
        display_name = (
            select(SenderNumber.display_name)
            .where(SenderNumber.id == Message.sender_number_id)
            .correlate(Message)
            .scalar_subquery()
        )
        tenant_name = (
            select(Tenant.name).where(Tenant.id == Message.tenant_id).correlate(Message).scalar_subquery()
        )
        result = await self.session.execute(
            update(Message)
            .where(
                which,
                Message.status == "queued",
                Message.next_attempt_at <= at,
                or_(Message.claimed_until.is_(None), Message.claimed_until < at),
            )
            .values(claimed_until=at + lease, attempts=Message.attempts + 1)
            .returning(Message, func.coalesce(func.nullif(display_name, ""), tenant_name))
            .execution_options(synchronize_session=False)
        )
        return [(row[0], row[1]) for row in result.all()]

    async def backlog(self) -> tuple[int, datetime | None]:
        """How many messages wait to be delivered (queued) and when the oldest was accepted."""
        row = (
            await self.session.execute(
                select(func.count(), func.min(Message.queued_at)).where(Message.status == "queued")
            )
        ).one()
        return int(row[0]), row[1]

    async def take_due(
        self, at: datetime, stale_before: datetime, *, include_never_attempted: bool, limit: int
    ) -> list[int]:
        """The sweeper's rows to re-publish (see messages.sweeper), stamped so that the next sweeps leave them
        alone for the stale time."""
        which = _retry_or_abandoned(stale_before)
        if include_never_attempted:
            which = or_(which, _never_attempted(stale_before))
        candidates = (
            select(Message.id).where(_waiting(at), which).order_by(Message.next_attempt_at).limit(limit)
        )
        if self.session.get_bind().dialect.name == "postgresql":
            # Two sweepers (two worker processes) take disjoint rows instead of queueing on each other's.
            candidates = candidates.with_for_update(skip_locked=True)
        ids = list(await self.session.scalars(candidates))
        if not ids:
            return []
        stamped = await self.session.execute(
            update(Message)
            .where(Message.id.in_(ids), _waiting(at), which)
            .values(claimed_until=at)
            .returning(Message.id)
            .execution_options(synchronize_session=False)
        )
        return list(stamped.scalars())

    async def release_for_retry(self, message_id: int, next_attempt_at: datetime, reason: str) -> None:
        await self.session.execute(
            update(Message)
            .where(Message.id == message_id, Message.status == "queued")
            .values(claimed_until=None, next_attempt_at=next_attempt_at, failure_reason=reason[:500])
        )


__all__ = [
    "AcceptedBatch",
    "DeliveryQueue",
    "MessageFilters",
    "MessageRepository",
    "add_history_rows",
    "media_of",
]
