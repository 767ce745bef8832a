"""The SMS send's cache of sender identities: (tenant, sender id) → the sender as the send check reads it
(status, type, country, default message type, transactional-only), dropped by the change notice of the
tenant's SMS senders (``publish_sms_sender_change``: every status move, update and delete publishes it in its
transaction), with the short TTL of every noticed cache as a safety net. A sender that is not found is not
cached. The cached rows are detached and only read."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from tgo.kit.noticed_cache import NoticedCache, NoticeSource
from tgo.models.sms import SmsSender
from tgo.notices import publish_change
from tgo.sms.repository import SmsSenderRepository

TOPIC_SMS_SENDER = "sms_sender"  # key: the tenant id


async def publish_sms_sender_change(session: AsyncSession, tenant_id: int) -> None:
    """A sender of the tenant changed status, was updated or deleted (in ``session``'s transaction)."""
    await publish_change(session, TOPIC_SMS_SENDER, tenant_id)


class SmsSenderCache:
    def __init__(self, notices: NoticeSource, ttl_seconds: float) -> None:
        self.senders: NoticedCache[SmsSender | None] = NoticedCache(
            notices, frozenset({TOPIC_SMS_SENDER}), ttl_seconds
        )

    async def get(self, session: AsyncSession, tenant_id: int, sender_id: uuid.UUID) -> SmsSender | None:
        async def load() -> SmsSender | None:
            return await SmsSenderRepository(session, tenant_id).get(sender_id)

        return await self.senders.get(str(tenant_id), sender_id, load, keep=lambda s: s is not None)
