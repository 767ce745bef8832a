"""The guard's caches: API key hash → the key's row and its tenant, request host → the tenant owning that
domain; dropped by change notices (``tgo.notices``: a key created or revoked, a tenant created or changed),
with a short TTL as a safety net. ``last_used_at`` is stamped in batches by ``KeyUsage``."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta

import structlog

from tgo.auth.repository import AuthRow, key_row, tenant_id_by_domain, touch_keys
from tgo.db import Database
from tgo.kit.noticed_cache import NoticedCache, NoticeSource

log = structlog.get_logger("tgo.auth")

TOPIC_API_KEY = "api_key"  # key: the key's hash
TOPIC_TENANT = "tenant"  # key: "*" (tenants change rarely; every entry naming a tenant is dropped)
TOUCH_EVERY = timedelta(seconds=60)
FLUSH_SECONDS = 2.0


class KeyUsage:
    """Collects the keys used since the last flush and stamps them in one UPDATE every FLUSH_SECONDS (each
    key at most once per TOUCH_EVERY per process), instead of a write on the request path."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._pending: dict[int, datetime] = {}
        self._stamped: dict[int, datetime] = {}
        self._task: asyncio.Task[None] | None = None

    def used(self, key_id: int, last_used_at: datetime | None, at: datetime) -> None:
        stamped = self._stamped.get(key_id) or last_used_at
        if key_id in self._pending or (stamped is not None and stamped >= at - TOUCH_EVERY):
            return
        self._pending[key_id] = at
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            try:
                await self.flush()
            except Exception as exc:  # a stamp is best effort; the next flush tries again
                log.warning("key_usage_flush_failed", error=type(exc).__name__)

    async def flush(self) -> int:
        """Write the pending stamps (one statement per distinct time); returns how many keys."""
        pending, self._pending = self._pending, {}
        if not pending:
            return 0
        by_time: dict[datetime, list[int]] = {}
        for key_id, at in pending.items():
            by_time.setdefault(at, []).append(key_id)
        try:
            async with self.db.read_scope() as conn:
                for at, ids in by_time.items():
                    await touch_keys(conn, ids, at, TOUCH_EVERY)
        except BaseException:
            for key_id, at in pending.items():
                self._pending.setdefault(key_id, at)
            raise
        self._stamped.update(pending)
        if len(self._stamped) > 100_000:
            self._stamped.clear()
        return len(pending)

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        with contextlib.suppress(Exception):
            await self.flush()


class KeyCache:
    """What the guard reads for a key and a host, from memory while the change notices are heard."""

    def __init__(self, db: Database, notices: NoticeSource, ttl_seconds: float) -> None:
        self.db = db
        self.keys: NoticedCache[AuthRow | None] = NoticedCache(
            notices, frozenset({TOPIC_API_KEY, TOPIC_TENANT}), ttl_seconds
        )
        self.hosts: NoticedCache[int | None] = NoticedCache(notices, frozenset({TOPIC_TENANT}), ttl_seconds)
        self.usage = KeyUsage(db)

    async def key(self, key_hash: str) -> AuthRow | None:
        """The key with this hash and its tenant, or None (an unknown key is not cached: guessed keys would
        fill the cache)."""

        async def load() -> AuthRow | None:
            async with self.db.read_scope() as conn:
                return await key_row(conn, key_hash)

        return await self.keys.get(key_hash, "", load, keep=_known)

    async def host_tenant(self, host: str) -> int | None:
        """The id of the tenant whose domain is ``host`` (None when no tenant has it: cached too)."""

        async def load() -> int | None:
            async with self.db.read_scope() as conn:
                return await tenant_id_by_domain(conn, host)

        return await self.hosts.get(host, "", load)

    async def aclose(self) -> None:
        await self.usage.aclose()


def _known(row: AuthRow | None) -> bool:
    return row is not None
