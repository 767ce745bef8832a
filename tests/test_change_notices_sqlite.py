"""The embedded default (SQLite) has no notice channel between processes: another process on the same file
(a CLI revoking a key) is seen through the caches' 1 s TTL there (``notices.LocalNotices.cache_ttl``), so a
revoked key is still refused by every process within a second."""

from __future__ import annotations

import time
from typing import Any, cast

import httpx
import pytest

from tests.test_change_notices import _until
from tgo.apikeys.service import create_api_key, list_api_keys, revoke_api_key
from tgo.app import create_app
from tgo.config import Settings
from tgo.tenants.service import create_tenant
from tgo.wiring import build_runtime


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_key_revoked_by_another_process_on_sqlite_is_refused_within_a_second(
    settings: Settings,
) -> None:
    a, b = build_runtime(settings), build_runtime(settings)  # two processes' runtimes on one SQLite file
    await a.start()
    await b.start()
    app = create_app(settings, b)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=cast(Any, app)), base_url="http://test")
    try:
        async with a.db.session_scope() as s:
            tenant = await create_tenant(s, slug="acme", domain="acme.localhost")
        async with a.db.session_scope() as s:
            _, key = await create_api_key(s, tenant.id, name="k", scopes="*")
        cache = b.key_cache.get().keys
        for _ in range(2):
            assert (await client.get("/api/v1/me", headers={"X-Api-Key": key})).status_code == 200
        assert cache.hits >= 1, "the key was not served from the cache"
        async with a.db.session_scope() as s:
            await revoke_api_key(s, tenant.id, (await list_api_keys(s, tenant.id))[0].id)
        revoked_at = time.monotonic()
        accepted_after: list[float] = []  # when each request still accepted after the revocation started

        async def refused() -> bool:
            started = time.monotonic() - revoked_at
            if (await client.get("/api/v1/me", headers={"X-Api-Key": key})).status_code == 401:
                return True
            accepted_after.append(started)
            return False

        await _until(refused, 3.0)
        # No request that started more than 1 s after the revocation was accepted.
        assert max(accepted_after, default=0.0) < 1.0, accepted_after
    finally:
        await client.aclose()
        await b.close()
        await a.close()
