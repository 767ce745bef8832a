"""The embedded default's SQLite driver (``tgo.db_sqlite``): one trip to the connection's thread per
statement, ``BEGIN IMMEDIATE`` sent with a transaction's first statement, no trip for ending a transaction
that never began — and the behaviour a caller relies on unchanged: rows, rowcounts, commit, rollback, the
write lock taken at the transaction's start, autocommit reads."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import event, text

from tgo.db import SQLITE_POOL_SIZE, Database


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'one-trip.db'}")
    async with database.engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)"))
    yield database
    await database.dispose()


class Trips:
    """Counts the functions aiosqlite runs on its connections' threads (one per trip)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        original = aiosqlite.Connection._execute

        async def counted(conn: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return await original(conn, fn, *args, **kwargs)  # type: ignore[no-untyped-call]

        monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)


async def test_statements_return_rows_rowcounts_and_ids(db: Database) -> None:
    async with db.session_scope() as s:
        ids = (
            (await s.execute(text("INSERT INTO t (v) VALUES ('a'), ('b'), ('c') RETURNING id")))
            .scalars()
            .all()
        )
        assert len(ids) == 3
        conn = await s.connection()
        await conn.execute(text("INSERT INTO t (v) VALUES (:v)"), [{"v": "d"}, {"v": "e"}])  # executemany
        updated = await s.execute(text("UPDATE t SET v = 'x' WHERE v IN ('a', 'b')"))
        assert updated.rowcount == 2  # type: ignore[attr-defined]
        one = await s.execute(text("INSERT INTO t (v) VALUES ('f')"))
        assert one.lastrowid == max(ids) + 3  # type: ignore[attr-defined]
    async with db.session_scope() as s:
        rows = (await s.execute(text("SELECT v FROM t ORDER BY id"))).scalars().all()
    assert rows == ["x", "x", "c", "d", "e", "f"]


async def test_a_statement_is_one_trip_and_an_unused_transaction_none(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    trips = Trips(monkeypatch)
    async with db.session_scope() as s:
        await s.execute(text("INSERT INTO t (v) VALUES ('a')"))  # BEGIN IMMEDIATE rides along
        await s.execute(text("SELECT v FROM t"))
    assert trips.count == 3  # two statements and the COMMIT (the check-in's reset has nothing to end)
    trips.count = 0
    async with db.read_scope() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one() == 1
    assert trips.count == 1  # autocommit: no BEGIN, no COMMIT, no reset rollback
    trips.count = 0
    async with db.session_scope():
        pass
    assert trips.count == 0


async def test_a_failed_transaction_is_rolled_back(db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with db.session_scope() as s:
            await s.execute(text("INSERT INTO t (v) VALUES ('lost')"))
            raise RuntimeError("the unit of work failed")
    with pytest.raises(Exception, match="NOT NULL"):
        async with db.session_scope() as s:
            await s.execute(text("INSERT INTO t (v) VALUES ('lost too')"))
            await s.execute(text("INSERT INTO t (v) VALUES (NULL)"))
    async with db.session_scope() as s:
        await s.execute(text("INSERT INTO t (v) VALUES ('kept')"))
    async with db.read_scope() as conn:
        assert (await conn.execute(text("SELECT v FROM t"))).scalars().all() == ["kept"]


async def test_a_committed_row_is_seen_by_a_new_engine(db: Database, tmp_path: Path) -> None:
    async with db.session_scope() as s:
        await s.execute(text("INSERT INTO t (v) VALUES ('durable')"))
    other = Database(db.url)
    try:
        async with other.read_scope() as conn:
            assert (await conn.execute(text("SELECT v FROM t"))).scalars().all() == ["durable"]
    finally:
        await other.dispose()


async def test_a_transaction_holds_the_write_lock_from_its_first_statement(
    db: Database, tmp_path: Path
) -> None:
    """BEGIN IMMEDIATE still comes first: a transaction that has only read holds the write lock, so another
    writer (here a plain sqlite3 connection with a 0.1 s busy timeout) cannot begin until it commits."""

    def try_to_write() -> None:
        other = sqlite3.connect(tmp_path / "one-trip.db", timeout=0.1, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("INSERT INTO t (v) VALUES ('other')")
            other.execute("COMMIT")
        finally:
            other.close()

    async with db.session_scope() as s:
        await s.execute(text("SELECT count(*) FROM t"))
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            await asyncio.to_thread(try_to_write)
    await asyncio.to_thread(try_to_write)  # committed: free again
    async with db.read_scope() as conn:
        assert (await conn.execute(text("SELECT v FROM t"))).scalars().all() == ["other"]


async def test_a_streamed_first_statement_takes_the_write_lock_too(db: Database, tmp_path: Path) -> None:
    """A server-side (streamed) result keeps aiosqlite's own cursor; its transaction still begins first."""
    async with db.session_scope() as s:
        await s.execute(text("INSERT INTO t (v) VALUES ('a'), ('b')"))
    async with db.session_scope() as s:
        streamed = await s.stream(text("SELECT v FROM t ORDER BY id"))
        assert [row[0] async for row in streamed] == ["a", "b"]
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            await asyncio.to_thread(_begin_elsewhere, tmp_path / "one-trip.db")


def _begin_elsewhere(path: Path) -> None:
    other = sqlite3.connect(path, timeout=0.1, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
    finally:
        other.close()


async def test_concurrent_writers_queue_and_all_commit(db: Database) -> None:
    async def write(i: int) -> None:
        async with db.session_scope() as s:
            await s.execute(text("SELECT count(*) FROM t"))
            await asyncio.sleep(0.01)  # hold the lock across an await
            await s.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": str(i)})

    await asyncio.gather(*(write(i) for i in range(12)))
    async with db.read_scope() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one() == 12


async def test_connections_are_kept_under_concurrency(db: Database) -> None:
    """Past the pool's size, checkouts wait for a connection rather than open one that is closed at
    check-in: a second burst opens no connection."""
    opened = 0

    def count(*_: Any) -> None:
        nonlocal opened
        opened += 1

    event.listen(db.engine.sync_engine, "connect", count)

    async def read() -> None:
        async with db.read_scope() as conn:
            await conn.execute(text("SELECT count(*) FROM t"))
            await asyncio.sleep(0.01)

    await asyncio.gather(*(read() for _ in range(40)))
    first = opened
    assert 0 < first <= SQLITE_POOL_SIZE
    await asyncio.gather(*(read() for _ in range(40)))
    assert opened == first


CRASHING_WRITER = """
import asyncio, os, signal, sys
from sqlalchemy import text
from tgo.db import Database

async def main():
    db = Database(sys.argv[1])
    async with db.engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)"))
    async with db.session_scope() as s:
        await s.execute(text("INSERT INTO t (v) VALUES ('committed')"))
    print("committed", flush=True)
    async with db.session_scope() as s:  # open, never committed
        await s.execute(text("INSERT INTO t (v) VALUES ('in flight')"))
        os.kill(os.getpid(), signal.SIGKILL)

asyncio.run(main())
"""


async def test_a_committed_row_survives_the_process_being_killed(tmp_path: Path) -> None:
    """WAL + synchronous=NORMAL: once the commit returned, the row is in the WAL file; a SIGKILL (no
    checkpoint, no close) loses only the transaction in flight."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'crash.db'}"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CRASHING_WRITER, url, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    assert out.decode().strip() == "committed"
    db = Database(url)
    try:
        async with db.read_scope() as conn:
            assert (await conn.execute(text("SELECT v FROM t"))).scalars().all() == ["committed"]
    finally:
        await db.dispose()
