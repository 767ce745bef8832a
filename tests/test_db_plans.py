"""PostgreSQL plans every statement for its own parameters (tgo.db: ``plan_cache_mode``), so a statement
that asyncpg prepared while a table was small does not keep that table's plan as it grows."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import bindparam, text

from tgo.config import Settings
from tgo.db import Database

pytestmark = pytest.mark.postgres_only


async def test_a_prepared_statement_is_never_run_on_a_generic_plan(settings: Settings) -> None:
    db = Database(settings.resolved_database_url, pool_size=1)
    table = f"plan_probe_{uuid.uuid4().hex[:8]}"
    ids = [f"m-{i}" for i in range(64)]
    lookup = text(f"SELECT id FROM {table} WHERE key IN :keys").bindparams(bindparam("keys", expanding=True))
    try:
        async with db.engine.connect() as conn:
            assert (await conn.execute(text("SHOW plan_cache_mode"))).scalar() == "force_custom_plan"
            await conn.execute(text(f"CREATE TABLE {table} (id bigserial PRIMARY KEY, key text UNIQUE)"))
            # While the table is empty: from its sixth run PostgreSQL would otherwise keep a generic plan.
            for _ in range(8):
                await conn.execute(lookup, {"keys": ids})
            await conn.execute(
                text(f"INSERT INTO {table} (key) SELECT 'm-' || g FROM generate_series(1, 20000) g")
            )
            assert len((await conn.execute(lookup, {"keys": ids})).all()) == 63  # m-1 .. m-63
            plans = (
                await conn.execute(
                    text(
                        "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
                        " WHERE statement LIKE :pattern"
                    ),
                    {"pattern": f"SELECT id FROM {table} WHERE key IN%"},
                )
            ).one()
            assert plans.generic_plans == 0 and plans.custom_plans == 9, plans
            await conn.execute(text(f"DROP TABLE {table}"))
            await conn.commit()
    finally:
        await db.dispose()
