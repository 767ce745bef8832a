"""Which phones are some business's active sender number (``connect_links``): the Business side links a
phone when its number becomes active and unlinks it when none of its registrations is active any more, and
may replace the whole set at once (its periodic reconciliation). Accounts may write only to linked phones."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from tgo.kit.clock import now

from .models import ConnectLinkRow
from .repository import ConnectRepository
from .service import phone_or_422


async def link(session: AsyncSession, phone: str) -> None:
    """Accounts may write to ``phone`` from now on (idempotent)."""
    e164 = phone_or_422(phone)
    if await ConnectRepository(session).link(e164) is None:
        session.add(ConnectLinkRow(phone=e164, linked_at=now()))
        await session.flush()


async def unlink(session: AsyncSession, phone: str) -> None:
    """``phone`` is no business's active sender number any more (idempotent)."""
    await ConnectRepository(session).unlink([phone_or_422(phone)])


async def replace_all(session: AsyncSession, phones: Iterable[str]) -> int:
    """The linked phones become exactly ``phones``; returns how many are linked."""
    wanted = {phone_or_422(p, "phones") for p in phones}
    repo = ConnectRepository(session)
    have = set(await repo.linked_phones())
    if have - wanted:
        await repo.unlink(sorted(have - wanted))
    at = now()
    session.add_all(ConnectLinkRow(phone=p, linked_at=at) for p in sorted(wanted - have))
    await session.flush()
    return len(wanted)


async def linked_phones(session: AsyncSession) -> list[str]:
    return await ConnectRepository(session).linked_phones()
