"""No API key, secret or password appears in plain text in any database row or log line."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import MetaData, select

from tests.conftest import MakeKey
from tgo.models import Tenant
from tgo.runtime import Runtime
from tgo.users.service import create_user


async def _all_rows_text(runtime: Runtime) -> str:
    meta = MetaData()
    async with runtime.db.engine.connect() as conn:
        await conn.run_sync(meta.reflect)
        parts = []
        for table in meta.sorted_tables:
            for row in (await conn.execute(select(table))).all():
                parts.append(repr(tuple(row)))
    return "\n".join(parts)


async def test_secrets_never_stored_or_logged_in_plain_text(
    client: httpx.AsyncClient,
    runtime: Runtime,
    tenant: Tenant,
    make_key: MakeKey,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tgo.observability import configure_logging

    configure_logging("INFO", json=True)
    key = await make_key(tenant, "*")
    password = "correct horse battery staple"
    async with runtime.db.session_scope() as s:
        await create_user(s, tenant.id, email="owner@acme.test", password=password)
    r = await client.get("/api/v1/me", headers={"X-Api-Key": key})
    assert r.status_code == 200
    await client.get("/api/v1/me", headers={"X-Api-Key": key[:-1] + "X"})
    dump = await _all_rows_text(runtime)
    assert key not in dump and key[4:] not in dump
    assert password not in dump
    logs = capsys.readouterr()
    assert '"path": "/api/v1/me"' in logs.err  # the request log is there...
    assert key not in logs.err + logs.out and key[4:20] not in logs.err + logs.out  # ...without the key
