"""Change notices: how every process learns that a cached row changed (a key revoked, a sender number
suspended, a tenant created, a recipient's reachability). A notice is a (topic, key) pair.

- PostgreSQL: ``pg_notify`` inside the transaction that made the change (so the notice goes out exactly when
  it commits, and never for a rollback) and one asyncpg connection per process that ``LISTEN``s.
- Redis (``TGO_REDIS_URL`` set): pub/sub, published after the commit.
- Embedded (SQLite, one process): the subscribers are called directly after the commit.

The changing process's own subscribers are also called directly after the commit, whatever the bus.

A subscriber is told ``reset()`` whenever notices may have been missed (the listener connected, reconnected or
lost its connection), and ``healthy`` is false while none can arrive: caches serve nothing then."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from abc import ABC, abstractmethod
from typing import Any

import structlog
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from tgo.db import after_commit
from tgo.kit.noticed_cache import Subscriber

log = structlog.get_logger("tgo.notices")

# Where a session finds its process's notices (the wiring configures the session factory with it).
SESSION_INFO_KEY = "tgo.notices"
CHANNEL = "tgo_changes"
_SEP = "\t"
KEEPALIVE_SECONDS = 5.0
RECONNECT_SECONDS = 0.5
LOCAL_TTL_SECONDS = 1.0


class ChangeNotices(ABC):
    """The process's change-notice bus: ``publish`` in a transaction, ``subscribe`` to hear every notice."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.append(subscriber)

    def _deliver(self, topic: str, key: str) -> None:
        for sub in self._subscribers:
            sub.notice(topic, key)

    def _reset(self) -> None:
        for sub in self._subscribers:
            sub.reset()

    @property
    @abstractmethod
    def healthy(self) -> bool:
        """True while every notice published from now on will reach this process."""

    def cache_ttl(self, configured: float) -> float:
        """The TTL the caches use: the configured safety net where every process hears the notices."""
        return configured

    def start(self) -> None:  # noqa: B027 - only the listening buses have something to start
        """Begin listening (idempotent; needs a running event loop)."""

    @abstractmethod
    async def publish(self, session: AsyncSession, topic: str, key: str) -> None:
        """Announce that ``(topic, key)`` changed in ``session``'s transaction, to every process once it commits."""

    async def aclose(self) -> None:  # noqa: B027
        """Stop listening."""


class LocalNotices(ChangeNotices):
    """One process (the embedded default): subscribers hear a change right after its commit. Another process
    on the same SQLite file (a `tgo apikey revoke` from the CLI, `tgo worker`) cannot tell this one, so here
    the caches keep entries for at most LOCAL_TTL_SECONDS: such a change is seen within a second too."""

    def cache_ttl(self, configured: float) -> float:
        return min(configured, LOCAL_TTL_SECONDS)

    @property
    def healthy(self) -> bool:
        return True

    async def publish(self, session: AsyncSession, topic: str, key: str) -> None:
        async def tell() -> None:
            self._deliver(topic, key)

        after_commit(session, tell)


class _ListeningNotices(ChangeNotices):
    """A bus with one background listener that reconnects; unhealthy (and resetting) while disconnected."""

    def __init__(self) -> None:
        super().__init__()
        self._connected = False
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def healthy(self) -> bool:
        if self._task is None:
            self.start()
        return self._connected

    def start(self) -> None:
        if self._task is not None or self._closed:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._task = loop.create_task(self._run())

    def _tell_here_after_commit(self, session: AsyncSession, topic: str, key: str) -> None:
        # The changing process drops its own entries as soon as it commits, without waiting for its listener
        # to hear the notice: a request answered after the change is never served the old value here.
        async def tell() -> None:
            self._deliver(topic, key)

        after_commit(session, tell)

    def _heard(self, payload: str) -> None:
        topic, _, key = payload.partition(_SEP)
        self._deliver(topic, key)

    async def _run(self) -> None:
        while not self._closed:
            try:
                await self._listen()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("change_notices_disconnected", error=type(exc).__name__, detail=str(exc)[:200])
            finally:
                self._connected = False
                self._reset()
            await asyncio.sleep(RECONNECT_SECONDS)

    def _up(self) -> None:
        # Anything cached before now may have missed a notice: drop it, then serve from the cache again.
        self._reset()
        self._connected = True

    @abstractmethod
    async def _listen(self) -> None:
        """Connect, subscribe, call ``_up()``, then hear notices until the connection fails."""

    async def aclose(self) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        self._connected = False


class PostgresNotices(_ListeningNotices):
    """``LISTEN tgo_changes`` on a connection of its own; ``pg_notify`` in the changing transaction."""

    def __init__(self, database_url: str) -> None:
        super().__init__()
        url = make_url(database_url).set(drivername="postgresql")
        self._dsn = url.render_as_string(hide_password=False)

    async def publish(self, session: AsyncSession, topic: str, key: str) -> None:
        await publish_postgres(session, topic, key)
        self._tell_here_after_commit(session, topic, key)

    async def _listen(self) -> None:
        import asyncpg

        conn: Any = await asyncpg.connect(self._dsn, timeout=5)
        lost = asyncio.Event()
        try:
            conn.add_termination_listener(lambda *_: lost.set())
            await conn.add_listener(CHANNEL, lambda _c, _pid, _ch, payload: self._heard(payload))
            self._up()
            while not lost.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), KEEPALIVE_SECONDS)
                if not lost.is_set():  # a half-open connection hears nothing: prove it is alive
                    await asyncio.wait_for(conn.fetchval("SELECT 1"), KEEPALIVE_SECONDS)
            raise ConnectionError("listener connection lost")
        finally:
            with contextlib.suppress(Exception):
                await conn.close(timeout=1)


async def publish_postgres(session: AsyncSession, topic: str, key: str) -> None:
    await session.execute(select(func.pg_notify(CHANNEL, f"{topic}{_SEP}{key}")))


class RedisNotices(_ListeningNotices):
    """Redis pub/sub on a channel named for the database (deployments sharing a Redis stay apart)."""

    def __init__(self, redis_url: str, database_url: str) -> None:
        super().__init__()
        self._url = redis_url
        self.channel = f"tgo:changes:{hashlib.sha256(database_url.encode()).hexdigest()[:16]}"
        self._client: Any = None

    def _redis(self) -> Any:
        if self._client is None:
            from redis.asyncio import Redis

            self._client = Redis.from_url(self._url, socket_timeout=2.0, socket_connect_timeout=2.0)
        return self._client

    async def publish(self, session: AsyncSession, topic: str, key: str) -> None:
        async def tell() -> None:
            await self._redis().publish(self.channel, f"{topic}{_SEP}{key}")

        self._tell_here_after_commit(session, topic, key)
        after_commit(session, tell)

    async def _listen(self) -> None:
        from redis.asyncio import Redis

        client: Any = Redis.from_url(self._url, socket_connect_timeout=2.0, health_check_interval=5)
        pubsub = client.pubsub()
        try:
            await pubsub.subscribe(self.channel)
            self._up()
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=KEEPALIVE_SECONDS)
                if message is None:
                    await pubsub.ping()
                    continue
                if message.get("type") == "message":
                    data = message["data"]
                    self._heard(data.decode() if isinstance(data, bytes) else str(data))
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()
            with contextlib.suppress(Exception):
                await client.aclose()

    async def aclose(self) -> None:
        await super().aclose()
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.aclose()


def build_notices(database_url: str, redis_url: str | None) -> ChangeNotices:
    """Redis when configured, else PostgreSQL's LISTEN/NOTIFY, else (SQLite) direct calls."""
    if redis_url:
        return RedisNotices(redis_url, database_url)
    if make_url(database_url).get_backend_name() == "postgresql":
        return PostgresNotices(database_url)
    return LocalNotices()


async def publish_change(session: AsyncSession, topic: str, key: str | int) -> None:
    """The one way code announces a change of a cached row, in the transaction that makes it."""
    notices = session.info.get(SESSION_INFO_KEY)
    if isinstance(notices, ChangeNotices):
        await notices.publish(session, topic, str(key))
    elif session.bind is not None and session.bind.dialect.name == "postgresql":
        # A session of a bare Database (a script): other processes still listen on PostgreSQL.
        await publish_postgres(session, topic, str(key))
