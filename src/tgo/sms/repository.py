"""Every query of the SMS part. Tenant-bound repositories for the API; ``SmsOperatorRepository`` is the
cross-tenant one used only by workers, receipts and operator commands."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, case, delete, exists, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from tgo.kit.repository import TenantRepository
from tgo.models.sms import SmsMessage, SmsMessagePart, SmsSender
from tgo.sms.rules import SenderType, brand_key


def _after(model: Any, cursor: tuple[datetime, uuid.UUID] | None) -> Any:
    """Newest first: rows strictly after the cursor position (created_at, id)."""
    if cursor is None:
        return True
    created_at, row_id = cursor
    return or_(model.created_at < created_at, and_(model.created_at == created_at, model.id < row_id))


class SmsSenderRepository(TenantRepository):
    async def add(self, sender: SmsSender) -> SmsSender:
        sender.tenant_id = self.tenant_id
        self.session.add(sender)
        await self.session.flush()
        return sender

    async def get(self, sender_id: uuid.UUID) -> SmsSender | None:
        return await self.session.scalar(
            select(SmsSender).where(SmsSender.id == sender_id, SmsSender.tenant_id == self.tenant_id)
        )

    async def find_identity(self, sender_type: str, sender_id: str, country: str) -> SmsSender | None:
        return await self.session.scalar(
            select(SmsSender).where(
                SmsSender.tenant_id == self.tenant_id,
                SmsSender.sender_type == sender_type,
                SmsSender.sender_id == sender_id,
                SmsSender.country == country,
            )
        )

    async def page(self, limit: int, cursor: tuple[datetime, uuid.UUID] | None) -> Sequence[SmsSender]:
        result = await self.session.scalars(
            select(SmsSender)
            .where(SmsSender.tenant_id == self.tenant_id, _after(SmsSender, cursor))
            .order_by(SmsSender.created_at.desc(), SmsSender.id.desc())
            .limit(limit + 1)
        )
        return result.all()

    async def has_messages(self, sender_id: uuid.UUID) -> bool:
        found = await self.session.scalar(
            select(exists().where(SmsMessage.sender_id == sender_id, SmsMessage.tenant_id == self.tenant_id))
        )
        return bool(found)

    async def delete(self, sender_id: uuid.UUID) -> None:
        await self.session.execute(
            delete(SmsSender).where(SmsSender.id == sender_id, SmsSender.tenant_id == self.tenant_id)
        )

    async def by_ids(self, ids: set[uuid.UUID]) -> Sequence[SmsSender]:
        if not ids:
            return []
        result = await self.session.scalars(
            select(SmsSender).where(SmsSender.tenant_id == self.tenant_id, SmsSender.id.in_(ids))
        )
        return result.all()


class SmsMessageRepository(TenantRepository):
    async def add(self, message: SmsMessage) -> SmsMessage:
        message.tenant_id = self.tenant_id
        self.session.add(message)
        await self.session.flush()
        return message

    async def get(self, message_id: uuid.UUID) -> SmsMessage | None:
        return await self.session.scalar(
            select(SmsMessage).where(SmsMessage.id == message_id, SmsMessage.tenant_id == self.tenant_id)
        )

    async def page(
        self,
        limit: int,
        cursor: tuple[datetime, uuid.UUID] | None,
        *,
        status: str | None = None,
        sender_id: uuid.UUID | None = None,
    ) -> Sequence[SmsMessage]:
        query = select(SmsMessage).where(SmsMessage.tenant_id == self.tenant_id, _after(SmsMessage, cursor))
        if status is not None:
            query = query.where(SmsMessage.status == status)
        if sender_id is not None:
            query = query.where(SmsMessage.sender_id == sender_id)
        result = await self.session.scalars(
            query.order_by(SmsMessage.created_at.desc(), SmsMessage.id.desc()).limit(limit + 1)
        )
        return result.all()

    async def usage(self, since: datetime, until: datetime) -> list[tuple[uuid.UUID, str, int, int]]:
        """(sender_id, status, messages, segments) of the messages created in [since, until)."""
        rows = await self.session.execute(
            select(SmsMessage.sender_id, SmsMessage.status, func.count(), func.sum(SmsMessage.segments))
            .where(
                SmsMessage.tenant_id == self.tenant_id,
                SmsMessage.created_at >= since,
                SmsMessage.created_at < until,
            )
            .group_by(SmsMessage.sender_id, SmsMessage.status)
        )
        return [(r[0], r[1], int(r[2]), int(r[3] or 0)) for r in rows]

    async def usage_by_day(
        self, since: datetime, until: datetime
    ) -> list[tuple[date, uuid.UUID, str, int, int]]:
        """(UTC day, sender_id, status, messages, segments) of the messages created in [since, until)."""
        conn = await self.session.connection()
        if conn.dialect.name == "postgresql":
            day = func.date(func.timezone("UTC", SmsMessage.created_at))
        else:  # SQLite keeps naive UTC text
            day = func.date(SmsMessage.created_at)
        rows = await self.session.execute(
            select(day, SmsMessage.sender_id, SmsMessage.status, func.count(), func.sum(SmsMessage.segments))
            .where(
                SmsMessage.tenant_id == self.tenant_id,
                SmsMessage.created_at >= since,
                SmsMessage.created_at < until,
            )
            .group_by(day, SmsMessage.sender_id, SmsMessage.status)
        )
        return [
            (
                r[0] if isinstance(r[0], date) else date.fromisoformat(str(r[0])),
                r[1],
                r[2],
                int(r[3]),
                int(r[4] or 0),
            )
            for r in rows
        ]


class SmsOperatorRepository:
    """Cross-tenant access for workers, receipts and the operator CLI (never reachable from the API)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def sender(self, sender_id: uuid.UUID, *, lock: bool = False) -> SmsSender | None:
        query = select(SmsSender).where(SmsSender.id == sender_id)
        if lock:
            query = query.with_for_update()
        return await self.session.scalar(query)

    async def brand_active_elsewhere(self, tenant_id: int, sender_id: str, country: str) -> bool:
        """Whether another tenant has ``sender_id`` (by brand key) as an active alphanumeric ID in
        ``country`` — for the carrier's decision only, never for an API answer. On PostgreSQL it first
        takes a transaction lock on the brand, so two verifications of one brand decide one after the other
        (on SQLite the write lock taken at BEGIN already serialises them)."""
        key = brand_key(sender_id)
        conn = await self.session.connection()
        if conn.dialect.name == "postgresql":
            digest = hashlib.blake2b(f"sms-brand:{country}:{key}".encode(), digest_size=8).digest()
            await conn.execute(select(func.pg_advisory_xact_lock(int.from_bytes(digest, "big", signed=True))))
        found = await self.session.scalar(
            select(SmsSender.id)
            .where(
                SmsSender.tenant_id != tenant_id,
                SmsSender.country == country,
                SmsSender.sender_type == SenderType.ALPHANUMERIC_ID,
                SmsSender.status == "active",
                func.upper(func.replace(SmsSender.sender_id, " ", "")) == key,
            )
            .limit(1)
        )
        return found is not None

    async def due_pending_senders(self, at: datetime, limit: int = 100) -> Sequence[uuid.UUID]:
        result = await self.session.scalars(
            select(SmsSender.id)
            .where(SmsSender.status == "pending", SmsSender.verification_due_at <= at)
            .limit(limit)
        )
        return result.all()

    async def claim_message(self, message_id: uuid.UUID, at: datetime, until: datetime) -> bool:
        """Take a queued message for one delivery attempt; a concurrent or duplicate job gets False."""
        result = await self.session.execute(
            update(SmsMessage)
            .where(
                SmsMessage.id == message_id,
                SmsMessage.status == "queued",
                or_(SmsMessage.claimed_until.is_(None), SmsMessage.claimed_until < at),
            )
            .values(claimed_until=until, attempts=SmsMessage.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    async def claim_messages(
        self, message_ids: Sequence[uuid.UUID], at: datetime, until: datetime
    ) -> list[SmsMessage]:
        """``claim_message`` for a batch, in one statement: those of ``message_ids`` still queued and free
        (the others — done, held by another worker, a duplicate job's — are left alone), by id. On PostgreSQL
        the rows are locked in id order and a row another transaction holds is skipped (``SKIP LOCKED``: no
        wait, no deadlock between overlapping claims; a skipped message that is still due is the sweeper's)."""
        if not message_ids:
            return []
        free = (
            SmsMessage.status == "queued",
            or_(SmsMessage.claimed_until.is_(None), SmsMessage.claimed_until < at),
        )
        due = (
            select(SmsMessage.id)
            .where(SmsMessage.id.in_(sorted(set(message_ids))), *free)
            .order_by(SmsMessage.id)
            .with_for_update(skip_locked=True)
        )
        result = await self.session.scalars(
            update(SmsMessage)
            .where(SmsMessage.id.in_(due), *free)
            .values(claimed_until=until, attempts=SmsMessage.attempts + 1)
            .returning(SmsMessage)
            .execution_options(synchronize_session=False, populate_existing=True)
        )
        return sorted(result.all(), key=lambda m: m.id)

    async def senders(self, sender_ids: set[uuid.UUID]) -> dict[uuid.UUID, SmsSender]:
        if not sender_ids:
            return {}
        rows = await self.session.scalars(select(SmsSender).where(SmsSender.id.in_(sorted(sender_ids))))
        return {s.id: s for s in rows}

    async def insert_messages(self, rows: Sequence[dict[str, Any]]) -> None:
        """Queued messages (their ids are made by the caller), in one multi-row INSERT."""
        if rows:
            await self.session.execute(insert(SmsMessage), list(rows))

    async def add_parts(self, rows: Sequence[dict[str, Any]]) -> None:
        """Submitted parts in one multi-row INSERT; a part already recorded (its message's claim expired and
        another attempt recorded it) is left as it is."""
        if not rows:
            return
        conn = await self.session.connection()
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(SmsMessagePart).on_conflict_do_nothing(
            index_elements=["message_id", "part_number"]
        )
        await self.session.execute(statement, list(rows))

    async def release_for_retry(
        self, retry: dict[uuid.UUID, tuple[datetime, str | None, str | None]], at: datetime
    ) -> None:
        """Queued messages handed back for a later attempt, in one statement: each its own next attempt time
        and error (id -> (next_attempt_at, error_code, error_message))."""
        if not retry:
            return

        def per_message(index: int, column: Any) -> Any:
            values = {message_id: v[index] for message_id, v in retry.items()}
            if len(set(values.values())) == 1:
                return next(iter(values.values()))
            return case(values, value=SmsMessage.id, else_=column)

        await self.session.execute(
            update(SmsMessage)
            .where(SmsMessage.id.in_(sorted(retry)), SmsMessage.status == "queued")
            .values(
                claimed_until=None,
                next_attempt_at=per_message(0, SmsMessage.next_attempt_at),
                error_code=per_message(1, SmsMessage.error_code),
                error_message=per_message(2, SmsMessage.error_message),
                updated_at=at,
            )
            .execution_options(synchronize_session=False)
        )

    async def message(self, message_id: uuid.UUID, *, lock: bool = False) -> SmsMessage | None:
        query = select(SmsMessage).where(SmsMessage.id == message_id)
        if lock:
            query = query.with_for_update()
        return await self.session.scalar(query.execution_options(populate_existing=True))

    async def parts(self, message_id: uuid.UUID) -> Sequence[SmsMessagePart]:
        result = await self.session.scalars(
            select(SmsMessagePart)
            .where(SmsMessagePart.message_id == message_id)
            .order_by(SmsMessagePart.part_number)
            .execution_options(populate_existing=True)
        )
        return result.all()

    async def add_part(self, part: SmsMessagePart) -> None:
        self.session.add(part)
        await self.session.flush()

    async def part_by_smsc_id(self, smsc_message_id: str) -> SmsMessagePart | None:
        return await self.session.scalar(
            select(SmsMessagePart)
            .where(SmsMessagePart.smsc_message_id == smsc_message_id)
            .order_by(SmsMessagePart.id.desc())
            .limit(1)
        )

    async def parts_by_smsc_ids(self, smsc_message_ids: Sequence[str]) -> dict[str, SmsMessagePart]:
        """The part each SMSC message id names (the latest one, should an SMSC ever reuse an id)."""
        rows = await self.session.scalars(
            select(SmsMessagePart)
            .where(SmsMessagePart.smsc_message_id.in_(smsc_message_ids))
            .order_by(SmsMessagePart.id)
        )
        return {part.smsc_message_id: part for part in rows}

    async def messages_for_update(self, message_ids: Sequence[uuid.UUID]) -> list[SmsMessage]:
        """The messages, locked (in id order, so two batches never wait on each other in a cycle)."""
        rows = await self.session.scalars(
            select(SmsMessage)
            .where(SmsMessage.id.in_(message_ids))
            .order_by(SmsMessage.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return list(rows)

    async def parts_of(self, message_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[SmsMessagePart]]:
        """Every recorded part of each message, in part order (read again: another batch may have just
        recorded a receipt)."""
        rows = await self.session.scalars(
            select(SmsMessagePart)
            .where(SmsMessagePart.message_id.in_(message_ids))
            .order_by(SmsMessagePart.message_id, SmsMessagePart.part_number)
            .execution_options(populate_existing=True)
        )
        found: dict[uuid.UUID, list[SmsMessagePart]] = {}
        for part in rows:
            found.setdefault(part.message_id, []).append(part)
        return found

    async def stranded_messages(
        self, at: datetime, fresh_before: datetime, limit: int = 500
    ) -> Sequence[uuid.UUID]:
        """Queued messages whose retry is due and that no worker holds (lost jobs, crashed workers)."""
        result = await self.session.scalars(
            select(SmsMessage.id)
            .where(
                SmsMessage.status == "queued",
                SmsMessage.next_attempt_at <= at,
                # A new message's own job was published at commit: give it time before re-publishing.
                or_(SmsMessage.attempts > 0, SmsMessage.created_at <= fresh_before),
                or_(SmsMessage.claimed_until.is_(None), SmsMessage.claimed_until < at),
            )
            .order_by(SmsMessage.next_attempt_at)
            .limit(limit)
        )
        return result.all()

    async def count_messages(self) -> int:
        return int(await self.session.scalar(select(func.count()).select_from(SmsMessage)) or 0)
