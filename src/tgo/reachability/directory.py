"""The reachability directory: whether a Connect phone can receive, answered from the Business side's own
copy (``recipient_reachability`` plus an in-process cache dropped by change notices) instead of a Connect
round trip per send. Connect pushes every change as ``account.reachability_changed`` (the account's whole
state at a version); ``tgo.reachability.sync`` fills a fresh directory in bulk.

``lookup`` answers ``None`` when the directory cannot answer exactly and the caller must ask Connect live: a
phone it has never seen (not on Connect, or created moments ago), or one that is *catching up* — its last
snapshot skipped a version, so an event is missing, until the next in-order snapshot or a resync."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from tgo.channels.connect_types import Lookup, Reachability, ReasonCode, reason_code
from tgo.db import Database
from tgo.kit.noticed_cache import NoticedCache, NoticeSource
from tgo.notices import publish_change
from tgo.reachability.repository import entry_row, store

TOPIC_REACHABILITY = "reachability"  # key: the phone, or "*" after a sync


@dataclass(frozen=True, slots=True)
class Entry:
    recipient_id: int
    version: int
    disabled: bool
    phone_verified_at: datetime | None
    account_verified: bool
    blocked_senders: frozenset[str]
    in_sequence: bool

    def lookup(self, sender_phone: str | None) -> Lookup:
        """What Connect's lookup answers for this state (the same rule, ``reason_code``)."""
        reason = reason_code(
            exists=True,
            disabled=self.disabled,
            phone_verified=self.phone_verified_at is not None,
            blocked_sender=sender_phone is not None and sender_phone in self.blocked_senders,
        )
        return Lookup(
            exists=True,
            can_receive=reason is ReasonCode.OK,
            reason_code=reason,
            recipient_id=self.recipient_id,
            is_verified=self.account_verified,
            phone_verified_at=self.phone_verified_at,
        )


class ReachabilityDirectory:
    def __init__(self, db: Database, notices: NoticeSource, ttl_seconds: float) -> None:
        self.db = db
        self.entries: NoticedCache[Entry | None] = NoticedCache(
            notices, frozenset({TOPIC_REACHABILITY}), ttl_seconds
        )
        self.answered = 0  # lookups answered from the directory
        self.fell_back = 0  # lookups the caller had to make live

    async def entry(self, phone: str, session: AsyncSession | None = None) -> Entry | None:
        """``session``: the caller's open transaction, read on its own connection — a second pooled connection
        checked out while a transaction holds one (and, on SQLite, the write lock) can exhaust the pool."""

        async def load() -> Entry | None:
            if session is not None:
                row = await entry_row(await session.connection(), phone)
            else:
                async with self.db.read_scope() as conn:
                    row = await entry_row(conn, phone)
            if row is None:
                return None
            return Entry(
                recipient_id=row.recipient_id,
                version=row.version,
                disabled=row.disabled,
                phone_verified_at=row.phone_verified_at,
                account_verified=row.account_verified,
                blocked_senders=frozenset(row.blocked_senders or ()),
                in_sequence=row.in_sequence,
            )

        # A phone never seen is not cached: its account may be created (and pushed) at any moment.
        return await self.entries.get(phone, "", load, keep=_seen)

    async def lookup(
        self, phone: str, sender_phone: str | None, session: AsyncSession | None = None
    ) -> Lookup | None:
        """The answer Connect's lookup would give, or None when the caller must ask Connect (see above)."""
        found = await self.entry(phone, session)
        if found is None or not found.in_sequence:
            self.fell_back += 1
            return None
        self.answered += 1
        return found.lookup(sender_phone)


async def apply_snapshot(session: AsyncSession, snap: Reachability, *, from_sync: bool = False) -> bool:
    """Store a pushed (or synced) snapshot unless it is older than what the directory has; every process's
    cache of the phone is dropped when ``session``'s transaction commits. True if it was newer."""
    stored = await store(session, snap, from_sync=from_sync)
    if stored and not from_sync:
        await publish_change(session, TOPIC_REACHABILITY, snap.phone)
    return stored


def _seen(entry: Entry | None) -> bool:
    return entry is not None
