"""``Idempotency-Key`` for sends: the same key and body within 24 h return the first response and send nothing
twice; another body → 422; while the first is in flight → 409. The key is claimed in its own transaction so
concurrent requests see it; the response is stored in the same transaction as the message."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tgo.db import Database
from tgo.errors import Conflict, Unprocessable, ValidationFailed
from tgo.kit.clock import now
from tgo.models import IdempotencyKey

TTL = timedelta(hours=24)
# An in-flight claim older than this belongs to a request that died (crash): it may be taken over.
LEASE = timedelta(seconds=60)


class IdempotencyKeyReused(Unprocessable):
    code = "idempotency_key_reused"


class IdempotencyInFlight(Conflict):
    code = "idempotency_request_in_progress"


@dataclass(frozen=True)
class Replay:
    status: int
    body: bytes


def check_key(key: str) -> str:
    key = key.strip()
    if not 1 <= len(key) <= 255 or not key.isprintable():
        raise ValidationFailed({"Idempotency-Key": ["Use 1 to 255 printable characters."]})
    return key


async def begin(db: Database, tenant_id: int, key: str, request_hash: str) -> int | Replay:
    """Claim ``key`` for this request (returns the claim id) or return the stored first response."""
    current = now()
    async with db.session_scope() as s:
        row = await s.scalar(
            select(IdempotencyKey).where(IdempotencyKey.tenant_id == tenant_id, IdempotencyKey.key == key)
        )
        if row is not None and row.created_at < current - TTL:
            await s.execute(delete(IdempotencyKey).where(IdempotencyKey.id == row.id))
            await s.flush()
            row = None
        if row is None:
            claim = IdempotencyKey(
                tenant_id=tenant_id,
                key=key,
                request_hash=request_hash,
                state="in_flight",
                created_at=current,
                locked_until=current + LEASE,
            )
            s.add(claim)
            try:
                await s.flush()
            except IntegrityError:
                raise IdempotencyInFlight() from None  # a concurrent request claimed it a moment ago
            return claim.id
        if row.request_hash != request_hash:
            raise IdempotencyKeyReused()
        if row.state == "done" and row.response_status is not None and row.response_body is not None:
            return Replay(row.response_status, row.response_body)
        if row.locked_until is not None and row.locked_until > current:
            raise IdempotencyInFlight()
        # The first request died mid-way and stored nothing: this one takes over.
        await s.execute(
            update(IdempotencyKey).where(IdempotencyKey.id == row.id).values(locked_until=current + LEASE)
        )
        return row.id


async def complete(session: AsyncSession, claim_id: int, status: int, body: bytes) -> None:
    """Store the response in the request's own transaction (atomic with the message)."""
    await session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.id == claim_id)
        .values(state="done", response_status=status, response_body=body, locked_until=None)
    )


async def abandon(db: Database, claim_id: int) -> None:
    """The request failed: free the key so a corrected retry can use it."""
    async with db.session_scope() as s:
        await s.execute(
            delete(IdempotencyKey).where(IdempotencyKey.id == claim_id, IdempotencyKey.state == "in_flight")
        )
