"""The embedded default's SQLite driver: SQLAlchemy's aiosqlite dialect with each statement in one trip to
the connection's thread.

aiosqlite runs every call of a sqlite3 connection on a thread of its own, and SQLAlchemy's adapter makes one
trip there per call: a statement is four (make the cursor, execute, fetch the rows, close the cursor), a
transaction adds a whole statement for ``BEGIN IMMEDIATE`` and a trip for the pool's reset rollback at
check-in even after a commit. Each trip is a future, a queue hand-off, a thread wake-up and a wake-up of the
event loop. Here a statement is one function run on the thread (cursor, execute, fetch, close, and the
transaction's ``BEGIN IMMEDIATE`` before its first statement), and a commit or rollback with no transaction
open makes no trip. What runs on the sqlite3 connection, and in what order, is unchanged; so is durability
(``COMMIT`` has returned before a commit does).

It relies on two private names of aiosqlite (``Connection._execute``, ``Connection._conn``), as SQLAlchemy's
own adapter does; ``uv.lock`` pins the version and ``tests/test_db_sqlite.py`` exercises them."""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import Sequence
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

BEGIN = "BEGIN IMMEDIATE"


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """A buffered cursor whose ``execute`` is one trip to the connection's thread (no sqlite3 cursor is kept
    between calls: the rows, description, rowcount and lastrowid come back with the trip)."""

    __slots__ = ("_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: Any) -> None:  # no trip: the base class makes a cursor here
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._rows = collections.deque()
        self._soft_closed_memoized = EMPTY_DICT
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        return self._lastrowid  # type: ignore[return-value]

    @property
    def arraysize(self) -> int:
        return 1

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        pass

    async def _async_soft_close(self) -> None:
        pass  # nothing is open between calls

    def close(self) -> None:
        self._rows.clear()

    def setinputsizes(self, *inputsizes: Any) -> None:
        pass

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        try:
            await_(self._run(operation, parameters, many=False))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        try:
            await_(self._run(operation, seq_of_parameters, many=True))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    async def _run(self, operation: Any, parameters: Any, *, many: bool) -> None:
        adapt: OneTripConnection = self._adapt_connection  # type: ignore[assignment]
        conn: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        raw = conn._conn  # raises ValueError("no active connection") once closed
        begin = adapt.begin_pending
        adapt.begin_pending = False
        try:
            result = await _trip(conn, _statement, raw, begin, operation, parameters, many)
        except BaseException:
            adapt.in_transaction = True  # not known: the next commit or rollback makes its trip
            raise
        self._description, rows, self._rowcount, self._lastrowid, adapt.in_transaction = result
        self._rows = collections.deque(rows)


async def _trip(conn: aiosqlite.Connection, fn: Any, *args: Any) -> Any:
    """Run ``fn(*args)`` on the connection's thread (aiosqlite's queue, as its own calls do)."""
    return await conn._execute(fn, *args)  # type: ignore[no-untyped-call]


def _statement(
    raw: sqlite3.Connection, begin: bool, operation: str, parameters: Any, many: bool
) -> tuple[Any, Sequence[Any], int, int | None, bool]:
    """Runs on the connection's thread: the transaction's BEGIN (first statement only), then the statement;
    returns what the cursor had to say, and whether a transaction is open now."""
    if begin and not raw.in_transaction:
        raw.execute(BEGIN)
    cursor = raw.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, rows, cursor.rowcount, cursor.lastrowid, raw.in_transaction
    finally:
        cursor.close()


def _begin(raw: sqlite3.Connection) -> bool:
    if not raw.in_transaction:
        raw.execute(BEGIN)
    return raw.in_transaction


def _end(raw: sqlite3.Connection, commit: bool) -> bool:
    """Runs on the connection's thread: COMMIT or ROLLBACK; whether a transaction is still open."""
    if commit:
        raw.commit()
    else:
        raw.rollback()
    return raw.in_transaction


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    """The connection adapter: ``begin_immediate`` defers ``BEGIN IMMEDIATE`` to the first statement's trip;
    commit and rollback make a trip only when a transaction is open."""

    __slots__ = ("begin_pending", "in_transaction")
    _cursor_cls = OneTripCursor

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self.begin_pending = False
        self.in_transaction = False

    def begin_immediate(self) -> None:
        self.begin_pending = True

    def cursor(self, server_side: bool = False) -> Any:
        if server_side and self.begin_pending:  # a streamed result keeps the stock cursor: BEGIN on its own
            self.begin_pending = False
            conn: aiosqlite.Connection = self._connection  # type: ignore[assignment]
            try:
                self.in_transaction = await_(_trip(conn, _begin, conn._conn))
            except Exception as error:
                self._handle_exception(error)
        return super().cursor(server_side)

    def commit(self) -> None:
        self._end(commit=True)

    def rollback(self) -> None:
        self._end(commit=False)

    def _end(self, *, commit: bool) -> None:
        self.begin_pending = False
        if not self.in_transaction:
            return  # no BEGIN was sent: nothing to end
        conn: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        if conn._connection is None:
            return  # closed (the base adapter ignores a commit or rollback then too)
        try:
            self.in_transaction = await_(_trip(conn, _end, conn._conn, commit))
        except Exception as error:
            self._handle_exception(error)


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """The DBAPI module handed to ``create_async_engine(module=...)``: aiosqlite, with the adapter above."""

    def connect(self, *arg: Any, **kw: Any) -> OneTripConnection:
        adapted = super().connect(*arg, **kw)
        return OneTripConnection(self, adapted._connection)


def one_trip_dbapi() -> OneTripDBAPI:
    return OneTripDBAPI(aiosqlite, sqlite3)
