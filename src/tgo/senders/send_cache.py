"""The send path's cache of sender numbers: (tenant, id or phone) → the columns the send check reads (id,
phone, status, verification_status and the event listeners' interest in the tenant), dropped by the change
notices of the tenant's numbers (``publish_sender_change``) and of its event interest (``tgo.events``), with a
short TTL as a safety net. A number that is not found is not cached."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from tgo import events
from tgo.kit.noticed_cache import NoticedCache, NoticeSource
from tgo.notices import publish_change
from tgo.senders.repository import SenderNumberRepository

TOPIC_SENDER_NUMBER = "sender_number"  # key: the tenant id


async def publish_sender_change(session: AsyncSession, tenant_id: int) -> None:
    """A number of the tenant was registered, changed status or was deleted (in ``session``'s transaction)."""
    await publish_change(session, TOPIC_SENDER_NUMBER, tenant_id)


class SenderCache:
    def __init__(self, notices: NoticeSource, ttl_seconds: float) -> None:
        self.numbers: NoticedCache[Row[Any] | None] = NoticedCache(
            notices, frozenset({TOPIC_SENDER_NUMBER, events.TOPIC_EVENT_INTEREST}), ttl_seconds
        )

    async def send_check(
        self, session: AsyncSession, tenant_id: int, *, number_id: int | None, phone: str | None
    ) -> Row[Any] | None:
        """``SenderNumberRepository.send_check`` with the tenant's event interest as ``interested``."""

        async def load() -> Row[Any] | None:
            return await SenderNumberRepository(session, tenant_id).send_check(
                number_id=number_id,
                phone=phone,
                extra=events.interest(session, tenant_id).label("interested"),
            )

        key = ("id", number_id) if number_id is not None else ("phone", phone)
        return await self.numbers.get(str(tenant_id), key, load, keep=_found)


def _found(row: Row[Any] | None) -> bool:
    return row is not None
