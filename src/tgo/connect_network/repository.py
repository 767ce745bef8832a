"""Every query of the Connect network (not tenant-bound: Connect has no tenants)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy import insert as insert_core
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from .models import (
    ConnectAccountRow,
    ConnectBlockRow,
    ConnectDeliveryAttemptRow,
    ConnectEventRow,
    ConnectInboxMessageRow,
    ConnectLinkRow,
    ConnectMediaRow,
    ConnectSentMessageRow,
)

# RETURNING in the parameters' order (SQLAlchemy's insertmanyvalues; on SQLite one INSERT per row).
_INSERT_MEDIA = insert_core(ConnectMediaRow).returning(ConnectMediaRow.id, sort_by_parameter_order=True)
_INSERT_SENT = insert_core(ConnectSentMessageRow).returning(
    ConnectSentMessageRow.id, sort_by_parameter_order=True
)


class ConnectRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def account_by_phone(self, phone: str) -> ConnectAccountRow | None:
        result = await self.session.execute(select(ConnectAccountRow).where(ConnectAccountRow.phone == phone))
        return result.scalar_one_or_none()

    async def bump_reachability_version(self, account_id: int) -> int:
        """Add one to the account's reachability version (an UPDATE: the row lock orders concurrent changes)
        and return it."""
        result = await self.session.execute(
            update(ConnectAccountRow)
            .where(ConnectAccountRow.id == account_id)
            .values(reachability_version=ConnectAccountRow.reachability_version + 1)
            .returning(ConnectAccountRow.reachability_version)
            .execution_options(synchronize_session=False)
        )
        return int(result.scalar_one())

    async def blocked_senders(self, account_ids: Sequence[int]) -> dict[int, list[str]]:
        """The sender phones each account blocked (sorted)."""
        found: dict[int, list[str]] = {account_id: [] for account_id in account_ids}
        if not account_ids:
            return found
        result = await self.session.execute(
            select(ConnectBlockRow.account_id, ConnectBlockRow.sender_phone)
            .where(ConnectBlockRow.account_id.in_(account_ids))
            .order_by(ConnectBlockRow.account_id, ConnectBlockRow.sender_phone)
        )
        for account_id, sender_phone in result:
            found[account_id].append(sender_phone)
        return found

    async def accounts_after(self, after_id: int, limit: int) -> Sequence[ConnectAccountRow]:
        """Accounts by id, after ``after_id`` (the reachability sync's pages)."""
        result = await self.session.execute(
            select(ConnectAccountRow)
            .where(ConnectAccountRow.id > after_id)
            .order_by(ConnectAccountRow.id)
            .limit(limit)
        )
        return result.scalars().all()

    async def is_blocked(self, account_id: int, sender_phone: str) -> bool:
        result = await self.session.execute(
            select(ConnectBlockRow.id).where(
                ConnectBlockRow.account_id == account_id, ConnectBlockRow.sender_phone == sender_phone
            )
        )
        return result.first() is not None

    async def block(self, account_id: int, sender_phone: str) -> ConnectBlockRow | None:
        result = await self.session.execute(
            select(ConnectBlockRow).where(
                ConnectBlockRow.account_id == account_id, ConnectBlockRow.sender_phone == sender_phone
            )
        )
        return result.scalar_one_or_none()

    async def blocks(self, account_id: int) -> Sequence[ConnectBlockRow]:
        result = await self.session.execute(
            select(ConnectBlockRow)
            .where(ConnectBlockRow.account_id == account_id)
            .order_by(ConnectBlockRow.id)
        )
        return result.scalars().all()

    async def message_by_business_id(self, business_message_id: str) -> ConnectInboxMessageRow | None:
        result = await self.session.execute(
            select(ConnectInboxMessageRow).where(
                ConnectInboxMessageRow.business_message_id == business_message_id
            )
        )
        return result.scalar_one_or_none()

    async def inbox_message(self, account_id: int, message_id: int) -> ConnectInboxMessageRow | None:
        result = await self.session.execute(
            select(ConnectInboxMessageRow).where(
                ConnectInboxMessageRow.account_id == account_id, ConnectInboxMessageRow.id == message_id
            )
        )
        return result.scalar_one_or_none()

    async def inbox(
        self, account_id: int, limit: int, before_id: int | None = None
    ) -> Sequence[ConnectInboxMessageRow]:
        """Newest first; with ``before_id``, only the messages older than that one (keyset paging)."""
        query = select(ConnectInboxMessageRow).where(ConnectInboxMessageRow.account_id == account_id)
        if before_id is not None:
            query = query.where(ConnectInboxMessageRow.id < before_id)
        result = await self.session.execute(query.order_by(ConnectInboxMessageRow.id.desc()).limit(limit))
        return result.scalars().all()

    async def count_attempt(self, business_message_id: str, at: datetime) -> None:
        """Add one to the raw acceptance-attempt counter (an upsert, safe under concurrency)."""
        dialect = self.session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        stmt = insert(ConnectDeliveryAttemptRow).values(
            business_message_id=business_message_id, attempts=1, last_attempt_at=at
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[ConnectDeliveryAttemptRow.business_message_id],
            set_={"attempts": ConnectDeliveryAttemptRow.attempts + 1, "last_attempt_at": at},
        )
        await self.session.execute(stmt)

    # The batch acceptance (POST /connect/v1/messages:batch): each a statement for the whole batch.

    async def count_attempts(self, counts: dict[str, int], at: datetime) -> None:
        """``count_attempt`` for a batch: each id's raw attempts in one executemany upsert."""
        if not counts:
            return
        dialect = self.session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        stmt = insert(ConnectDeliveryAttemptRow)
        stmt = stmt.on_conflict_do_update(
            index_elements=[ConnectDeliveryAttemptRow.business_message_id],
            set_={
                "attempts": ConnectDeliveryAttemptRow.attempts + stmt.excluded.attempts,
                "last_attempt_at": stmt.excluded.last_attempt_at,
            },
        )
        rows = [
            {"business_message_id": b, "attempts": n, "last_attempt_at": at}
            for b, n in sorted(counts.items())
        ]
        await self.session.execute(stmt, rows)

    async def messages_by_business_ids(self, ids: Sequence[str]) -> dict[str, tuple[int, datetime]]:
        """The inbox message id and acceptance time of each of ``ids`` Connect already accepted."""
        if not ids:
            return {}
        result = await self.session.execute(
            select(
                ConnectInboxMessageRow.business_message_id,
                ConnectInboxMessageRow.id,
                ConnectInboxMessageRow.received_at,
            ).where(ConnectInboxMessageRow.business_message_id.in_(sorted(set(ids))))
        )
        return {row[0]: (int(row[1]), row[2]) for row in result}

    async def accounts_by_phones(self, phones: Sequence[str]) -> dict[str, ConnectAccountRow]:
        if not phones:
            return {}
        result = await self.session.scalars(
            select(ConnectAccountRow).where(ConnectAccountRow.phone.in_(sorted(set(phones))))
        )
        return {row.phone: row for row in result}

    async def blocked_pairs(self, pairs: Sequence[tuple[int, str]]) -> set[tuple[int, str]]:
        """Which (account id, sender phone) pairs are blocks."""
        if not pairs:
            return set()
        account_ids = sorted({a for a, _ in pairs})
        result = await self.session.execute(
            select(ConnectBlockRow.account_id, ConnectBlockRow.sender_phone).where(
                ConnectBlockRow.account_id.in_(account_ids)
            )
        )
        wanted = set(pairs)
        return {(int(r[0]), str(r[1])) for r in result if (int(r[0]), str(r[1])) in wanted}

    async def insert_inbox_messages(self, rows: list[dict[str, Any]]) -> dict[str, int]:
        """New inbox messages in one multi-row INSERT; the ids of the ones written, by business message id
        (one another transaction wrote first is skipped, not an error: the caller answers it as a duplicate)."""
        if not rows:
            return {}
        dialect = self.session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        stmt = (
            insert(ConnectInboxMessageRow)
            .on_conflict_do_nothing(index_elements=[ConnectInboxMessageRow.business_message_id])
            .returning(ConnectInboxMessageRow.business_message_id, ConnectInboxMessageRow.id)
        )
        result = await self.session.execute(stmt, rows)
        return {str(row[0]): int(row[1]) for row in result}

    async def insert_events(self, rows: list[dict[str, Any]]) -> None:
        """Outbox events (type, data, event_id, ...) in one multi-row INSERT."""
        if rows:
            await self.session.execute(insert_core(ConnectEventRow), rows)

    async def attempts(self, business_message_id: str) -> int:
        result = await self.session.execute(
            select(ConnectDeliveryAttemptRow.attempts).where(
                ConnectDeliveryAttemptRow.business_message_id == business_message_id
            )
        )
        return int(result.scalar_one_or_none() or 0)

    # The event outbox.

    async def undelivered_after(self, after_id: int, limit: int) -> Sequence[ConnectEventRow]:
        """Undelivered events after ``after_id``, in the order they happened."""
        result = await self.session.execute(
            select(ConnectEventRow)
            .where(ConnectEventRow.delivered_at.is_(None), ConnectEventRow.id > after_id)
            .order_by(ConnectEventRow.id)
            .limit(limit)
        )
        return result.scalars().all()

    async def claim_event(self, event_id: int, due_before: datetime, lease_until: datetime) -> bool:
        """Take an event for one delivery attempt; False if another pump has it or it is not due."""
        result = await self.session.execute(
            update(ConnectEventRow)
            .where(
                ConnectEventRow.id == event_id,
                ConnectEventRow.delivered_at.is_(None),
                ConnectEventRow.next_attempt_at <= due_before,
            )
            .values(next_attempt_at=lease_until)
        )
        return bool(getattr(result, "rowcount", 0))

    async def claim_events(self, ids: Sequence[int], due_before: datetime, lease_until: datetime) -> set[int]:
        """``claim_event`` for several events in one statement; the ids taken."""
        result = await self.session.execute(
            update(ConnectEventRow)
            .where(
                ConnectEventRow.id.in_(list(ids)),
                ConnectEventRow.delivered_at.is_(None),
                ConnectEventRow.next_attempt_at <= due_before,
            )
            .values(next_attempt_at=lease_until)
            .returning(ConnectEventRow.id)
        )
        return set(result.scalars())

    async def set_due(self, ids: Sequence[int], at: datetime) -> None:
        """Give back (due at ``at``) events claimed and not posted, or extend their lease."""
        await self.session.execute(
            update(ConnectEventRow)
            .where(ConnectEventRow.id.in_(list(ids)), ConnectEventRow.delivered_at.is_(None))
            .values(next_attempt_at=at)
        )

    async def mark_delivered(self, ids: Sequence[int], at: datetime) -> None:
        """The receiver acknowledged these events (one attempt each)."""
        await self.session.execute(
            update(ConnectEventRow)
            .where(ConnectEventRow.id.in_(list(ids)))
            .values(delivered_at=at, attempts=ConnectEventRow.attempts + 1, last_error=None)
        )

    async def events(self, ids: Sequence[int]) -> Sequence[ConnectEventRow]:
        result = await self.session.execute(select(ConnectEventRow).where(ConnectEventRow.id.in_(list(ids))))
        return result.scalars().all()

    async def event(self, event_id: int) -> ConnectEventRow | None:
        return await self.session.get(ConnectEventRow, event_id)

    async def prune_delivered(self, before: datetime) -> int:
        result = await self.session.execute(
            delete(ConnectEventRow).where(
                ConnectEventRow.delivered_at.is_not(None), ConnectEventRow.delivered_at < before
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)

    # Links (phones that are some business's active sender number) and what accounts write to them.

    async def link(self, phone: str) -> ConnectLinkRow | None:
        return await self.session.get(ConnectLinkRow, phone)

    async def linked_among(self, phones: Sequence[str]) -> set[str]:
        """Which of ``phones`` are linked (one query for a batch of replies)."""
        if not phones:
            return set()
        result = await self.session.execute(
            select(ConnectLinkRow.phone).where(ConnectLinkRow.phone.in_(sorted(set(phones))))
        )
        return set(result.scalars())

    async def insert_media(self, rows: list[dict[str, Any]]) -> list[int]:
        """Attached files in one multi-row INSERT; their ids in the rows' order."""
        if not rows:
            return []
        return list((await self.session.execute(_INSERT_MEDIA, rows)).scalars())

    async def insert_sent_messages(self, rows: list[dict[str, Any]]) -> list[int]:
        """What accounts wrote, in one multi-row INSERT; the ids in the rows' order."""
        if not rows:
            return []
        return list((await self.session.execute(_INSERT_SENT, rows)).scalars())

    async def linked_phones(self) -> list[str]:
        result = await self.session.execute(select(ConnectLinkRow.phone).order_by(ConnectLinkRow.phone))
        return list(result.scalars())

    async def unlink(self, phones: list[str]) -> None:
        await self.session.execute(delete(ConnectLinkRow).where(ConnectLinkRow.phone.in_(phones)))

    async def media(self, media_id: int) -> ConnectMediaRow | None:
        return await self.session.get(ConnectMediaRow, media_id)

    async def sent_message(self, message_id: int) -> ConnectSentMessageRow | None:
        return await self.session.get(ConnectSentMessageRow, message_id)
