"""Engines, sessions and the transaction boundary (one per request, one per job)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import structlog
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from tgo.kit.private_files import private_file

AfterCommit = Callable[[], Awaitable[None]]

log = structlog.get_logger("tgo.db")


def create_engine(url: str, *, pool_size: int = 10, name: str = "main") -> AsyncEngine:
    engine = _create_engine(url, pool_size=pool_size)
    _count_checked_out(engine, name)
    return engine


def _count_checked_out(engine: AsyncEngine, name: str) -> None:
    """Keep the pool's in-use gauge (a shared-memory increment per checkout, no query)."""
    from tgo.metrics import DB_CONNECTIONS_IN_USE

    in_use = DB_CONNECTIONS_IN_USE.labels(name)
    event.listen(engine.sync_engine, "checkout", lambda *_: in_use.inc())
    event.listen(engine.sync_engine, "checkin", lambda *_: in_use.dec())


SQLITE_POOL_SIZE = 15


def _create_engine(url: str, *, pool_size: int) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        pool: dict[str, Any] = {}
        if parsed.database and parsed.database != ":memory:":
            from pathlib import Path

            private_file(Path(parsed.database))
            # SQLAlchemy's default ceiling for a file (5 + 10 overflow), but every connection is kept: an
            # overflow connection is closed at check-in, and under the send load the embedded default opened
            # new ones all the time (a thread, sqlite3.connect and the PRAGMAs below each).
            pool = {"pool_size": SQLITE_POOL_SIZE, "max_overflow": 0}
        from tgo.db_sqlite import one_trip_dbapi

        # One trip to the connection's thread per statement (tgo.db_sqlite), not four.
        engine = create_async_engine(url, connect_args={"timeout": 30}, module=one_trip_dbapi(), **pool)
        _configure_sqlite(engine)
        return engine
    # Every statement is planned for its own parameters and the table as it is now. asyncpg prepares each
    # statement once per connection, and after five executions PostgreSQL may keep a generic plan made
    # while a table was small: Connect's duplicate check (``business_message_id IN (…64…)``) kept a
    # sequential scan from when its inbox was empty — 200-250 ms per batch at 100,000 rows instead of
    # 0.4 ms, ≈ one PostgreSQL backend busy all through the bench's end-to-end runs. Planning these
    # statements costs ~0.1 ms, once per batch.
    # The same ceiling as pool_size + as many overflow (2 x pool_size), but every connection is kept: an
    # overflow connection is closed at check-in, so under load (64 concurrent sends) most checkouts opened a
    # new PostgreSQL connection (TCP, auth, a backend fork, the driver's type set-up, statements re-prepared).
    engine = create_async_engine(
        url,
        pool_size=2 * pool_size,
        max_overflow=0,
        pool_recycle=1800,
        connect_args={"server_settings": {"plan_cache_mode": "force_custom_plan"}},
    )
    _ping_idle_connections(engine)
    return engine


# pool_pre_ping pinged on every checkout, and the asyncpg dialect's ping is BEGIN; ";"; ROLLBACK — three
# round trips, twice per API request (guard + request), a third of the send path's round trips. A connection
# checked in moments ago is alive; one idle for longer is pinged and replaced if dead, as pre-ping did.
PING_IF_IDLE_SECONDS = 5.0


def _ping_idle_connections(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _connected(_dbapi_connection: Any, record: Any) -> None:
        record.info["tgo_last_used"] = time.monotonic()

    @event.listens_for(sync_engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["tgo_last_used"] = time.monotonic()

    @event.listens_for(sync_engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        last = record.info.get("tgo_last_used")
        if last is not None and time.monotonic() - last < PING_IF_IDLE_SECONDS:
            return
        try:
            sync_engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # the pool discards this connection and checks out a fresh one
            raise DisconnectionError("stale pooled connection") from exc


def _configure_sqlite(engine: AsyncEngine) -> None:
    from tgo.db_sqlite import OneTripConnection

    # SQLite upgrades a read transaction to a write one lazily and fails at once (SQLITE_BUSY) when
    # two writers race; taking the write lock at BEGIN makes writers queue on busy_timeout instead.
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Database.read_scope() runs without a transaction (the driver autocommits): no write lock for a lookup.
        if conn.get_execution_options().get("tgo_read_scope"):
            return
        dbapi_connection = conn.connection.dbapi_connection
        if isinstance(dbapi_connection, OneTripConnection):
            dbapi_connection.begin_immediate()  # sent with the transaction's first statement, same trip
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """An engine and its session factory."""

    def __init__(self, url: str, *, pool_size: int = 10, name: str = "main") -> None:
        self.url = url
        # ``name`` labels the pool's metrics: "main" (TGO Business) or "connect" (the reference network).
        self.engine = create_engine(url, pool_size=pool_size, name=name)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        self._read_engine: AsyncEngine | None = None

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @asynccontextmanager
    async def session_scope(self) -> AsyncIterator[AsyncSession]:
        """One transaction: commit on success, roll back on error, then run after-commit hooks."""
        async with self.sessionmaker() as session:
            try:
                yield session
                await session.commit()
            except BaseException as exc:
                await finish_failed(session, exc)
                raise
        await run_after_commit(session)

    @asynccontextmanager
    async def read_scope(self) -> AsyncIterator[AsyncConnection]:
        """A pooled connection in autocommit mode for single-statement lookups (the API-key guard): no
        BEGIN/COMMIT round trips on PostgreSQL and no write lock on SQLite; each statement stands alone."""
        async with self.engine.connect() as conn:
            if self.is_sqlite:  # the driver already autocommits (isolation_level None); skip BEGIN IMMEDIATE
                await conn.execution_options(tgo_read_scope=True)
            else:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
            yield conn

    def read_session(self) -> AsyncSession:
        """A session for single-statement reads that connects only if it runs a statement, then as
        ``read_scope`` does (autocommit on PostgreSQL, no ``BEGIN IMMEDIATE`` on SQLite): a check that a
        cache answers costs no connection. Use it as ``async with db.read_session() as s``."""
        engine = self._read_engine
        if engine is None:
            options = {"tgo_read_scope": True} if self.is_sqlite else {"isolation_level": "AUTOCOMMIT"}
            engine = self._read_engine = self.engine.execution_options(**options)
        return self.sessionmaker(bind=engine)

    async def dispose(self) -> None:
        await self.engine.dispose()


async def finish_failed(session: AsyncSession, exc: BaseException) -> None:
    """Roll back a failed unit of work, unless its error asks for its writes to be kept (then they are
    committed and their after-commit hooks run, e.g. telling a phone's owner of an OTP lockout); then run
    the after-rollback hooks (they may open their own transactions now that this one holds no locks)."""
    if getattr(exc, "persist", False):
        await session.commit()
        await run_after_commit(session)
        return
    await session.rollback()
    session.info.pop("after_commit", None)
    hooks: list[AfterCommit] = session.info.pop("after_rollback", [])
    for hook in hooks:
        await hook()


def after_rollback(session: AsyncSession, hook: AfterCommit) -> None:
    """Run ``hook`` if the session's transaction fails (e.g. release a claim taken in another transaction)."""
    session.info.setdefault("after_rollback", []).append(hook)


def after_commit(session: AsyncSession, hook: AfterCommit) -> None:
    """Run ``hook`` once the session's transaction has committed (e.g. publish a job)."""
    session.info.setdefault("after_commit", []).append(hook)


async def run_after_commit(session: AsyncSession) -> None:
    """Run the hooks of a committed transaction. The commit stands whatever they do: a hook that fails (a
    broker that is down or does not take the job in time) is logged and the others still run; the rows
    they were about are found again by the sweepers."""
    session.info.pop("after_rollback", None)
    hooks: list[AfterCommit] = session.info.pop("after_commit", [])
    for hook in hooks:
        try:
            await hook()
        except Exception as exc:
            log.warning(
                "after_commit_hook_failed",
                hook=getattr(hook, "__qualname__", "hook"),
                error=type(exc).__name__,
                detail=str(exc)[:200],
            )
