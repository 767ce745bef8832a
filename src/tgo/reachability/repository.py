"""The reachability directory's table (``recipient_reachability``). Not tenant-bound: it describes Connect
phones, which any tenant may send to; the per-sender part (blocks) is answered only for the sender a tenant
proved is its own (``contacts.service``, the send path's own sender)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, func, select, true
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from tgo.channels.connect_types import Reachability
from tgo.kit.clock import now
from tgo.models import RecipientReachability as R

_BY_PHONE = select(
    R.recipient_id,
    R.version,
    R.disabled,
    R.phone_verified_at,
    R.account_verified,
    R.blocked_senders,
    R.in_sequence,
).where(R.phone == bindparam("phone"))


async def entry_row(conn: AsyncConnection, phone: str) -> Any:
    """(recipient_id, version, disabled, phone_verified_at, account_verified, blocked_senders, in_sequence)."""
    return (await conn.execute(_BY_PHONE, {"phone": phone})).first()


async def is_empty(session: AsyncSession) -> bool:
    return not await session.scalar(select(func.count()).select_from(select(R.phone).limit(1).subquery()))


async def counts(session: AsyncSession) -> tuple[int, int]:
    """(phones in the directory, of which catching up: an event missing since their last snapshot)."""
    row = (
        await session.execute(
            select(func.count(), func.count().filter(R.in_sequence.is_(False))).select_from(R)
        )
    ).one()
    return int(row[0]), int(row[1])


async def store(session: AsyncSession, snap: Reachability, *, from_sync: bool) -> bool:
    """Keep ``snap`` unless the directory already has this version or a later one (a replayed or late event),
    except that a sync's snapshot of the same version puts a phone catching up back in sequence; True if it
    was stored. ``in_sequence`` is false when an event skipped a version (one went missing), true
    for a phone seen for the first time (a snapshot is complete) and for a sync's snapshot."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(R).values(
        phone=snap.phone,
        recipient_id=snap.recipient_id,
        version=snap.version,
        disabled=snap.disabled,
        phone_verified_at=snap.phone_verified_at,
        account_verified=snap.account_verified,
        blocked_senders=sorted(set(snap.blocked_senders)),
        in_sequence=True,
        updated_at=now(),
    )
    excluded = stmt.excluded
    stmt = stmt.on_conflict_do_update(
        index_elements=[R.phone],
        set_={
            "recipient_id": excluded.recipient_id,
            "version": excluded.version,
            "disabled": excluded.disabled,
            "phone_verified_at": excluded.phone_verified_at,
            "account_verified": excluded.account_verified,
            "blocked_senders": excluded.blocked_senders,
            "in_sequence": true() if from_sync else (excluded.version == R.version + 1),
            "updated_at": excluded.updated_at,
        },
        # A sync's snapshot of the version the directory has confirms that state: a phone catching up there
        # is in sequence again (its missing event changed nothing the snapshot does not show).
        where=(R.version < excluded.version) | ((R.version == excluded.version) & R.in_sequence.is_(False))
        if from_sync
        else R.version < excluded.version,
    )
    result = await session.execute(stmt)
    return bool(getattr(result, "rowcount", 0))
