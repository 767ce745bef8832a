"""Direct PostgreSQL access for the benchmark's own queries (polling, bulk loads), outside the app."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

from bench.stack import pg_url


class PgDirect:
    def __init__(self, database: str) -> None:
        self.dsn = pg_url(database, driver="postgresql")
        self.loop = asyncio.new_event_loop()
        self.conn: asyncpg.Connection = self.loop.run_until_complete(asyncpg.connect(self.dsn))

    def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        return list(self.loop.run_until_complete(self.conn.fetch(sql, *args)))

    def val(self, sql: str, *args: Any) -> Any:
        return self.loop.run_until_complete(self.conn.fetchval(sql, *args))

    def execute(self, sql: str, *args: Any, timeout: float | None = None) -> str:
        return str(self.loop.run_until_complete(self.conn.execute(sql, *args, timeout=timeout)))

    def close(self) -> None:
        self.loop.run_until_complete(self.conn.close())
        self.loop.close()
