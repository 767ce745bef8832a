"""The send path's and the delivery's cache of the suppression list: (tenant, channel, phone) → opted out or
not, dropped by the change notices of the tenant's list (``publish_opt_out_change``, in the transaction that
adds or removes an entry), with a short TTL as a safety net. Both answers are cached: "not opted out" is the
answer nearly every send gets."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from tgo.kit.noticed_cache import NoticedCache, NoticeSource
from tgo.notices import publish_change
from tgo.optouts.repository import OptOutRepository

TOPIC_OPT_OUT = "opt_out"  # key: the tenant id

# A session that changed the list reads it past the cache: its own uncommitted change must not be cached.
WROTE_INFO_KEY = "tgo.optouts.wrote"


async def publish_opt_out_change(session: AsyncSession, tenant_id: int) -> None:
    """The tenant's list changed in ``session``'s transaction: every process drops its entries when it commits."""
    session.info[WROTE_INFO_KEY] = True
    await publish_change(session, TOPIC_OPT_OUT, tenant_id)


class OptOutCache:
    def __init__(self, notices: NoticeSource, ttl_seconds: float) -> None:
        self.entries: NoticedCache[bool] = NoticedCache(notices, frozenset({TOPIC_OPT_OUT}), ttl_seconds)

    async def is_opted_out(self, session: AsyncSession, tenant_id: int, channel: str, phone: str) -> bool:
        repo = OptOutRepository(session, tenant_id)
        if session.info.get(WROTE_INFO_KEY):
            return await repo.is_opted_out(channel, phone)

        async def load() -> bool:
            return await repo.is_opted_out(channel, phone)

        return await self.entries.get(str(tenant_id), (channel, phone), load)

    async def opted_out_among(
        self, session: AsyncSession, tenant_id: int, channel: str, phones: list[str]
    ) -> set[str]:
        repo = OptOutRepository(session, tenant_id)
        if session.info.get(WROTE_INFO_KEY):
            return await repo.opted_out_among(channel, phones)

        async def load(keys: list[tuple[str, str]]) -> dict[tuple[str, str], bool]:
            listed = await repo.opted_out_among(channel, [phone for _, phone in keys])
            return {key: key[1] in listed for key in keys}

        found = await self.entries.get_many(str(tenant_id), {(channel, p) for p in phones}, load)
        return {phone for (_, phone), listed in found.items() if listed}
