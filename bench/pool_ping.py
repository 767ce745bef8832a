"""A/B of the pooled-connection ping (bench/README.md, "Changes made"): sessions of one `SELECT 1` in a
loop on an engine with SQLAlchemy's pool_pre_ping (the old setting) and on tgo.db.create_engine (ping only
after 5 s idle). `python -m bench.pool_ping` — uses a throw-away PostgreSQL database."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from bench.stack import create_database, drop_database, pg_url
from tgo.db import create_engine


async def per_session(engine: AsyncEngine, n: int = 3000) -> tuple[float, float]:
    sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def one() -> None:
        async with sessions() as s:
            await s.execute(text("SELECT 1"))
            await s.commit()

    for _ in range(200):
        await one()
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(n):
        await one()
    return (time.perf_counter() - t0) / n * 1e6, (time.process_time() - c0) / n * 1e6


async def main(url: str) -> None:
    for _ in range(2):
        for label, engine in (
            ("pool_pre_ping=True (before)", create_async_engine(url, pool_size=10, pool_pre_ping=True)),
            ("tgo.db.create_engine (after)", create_engine(url)),
        ):
            wall, cpu = await per_session(engine)
            print(
                f"{label:30} {wall:6.0f} µs wall, {cpu:5.0f} µs CPU per session (checkout, SELECT 1, COMMIT)"
            )
            await engine.dispose()


if __name__ == "__main__":
    name = f"tgo_bench_ping_{datetime.now(UTC):%Y%m%d%H%M%S}"
    create_database(name)
    try:
        asyncio.run(main(pg_url(name)))
    finally:
        drop_database(name)
