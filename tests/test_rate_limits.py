"""Per-key and per-tenant API rate limits: 429 in the error envelope with Retry-After and the IETF
RateLimit headers; other tenants unaffected; counters shared across API processes through Redis."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import redis.asyncio as aioredis

from tests.conftest import MakeKey, MakeTenant
from tgo.app import create_app
from tgo.config import Settings
from tgo.wiring import build_runtime

REDIS_URL = "redis://127.0.0.1:6379/0"


def _check_429(resp: httpx.Response, limit: int) -> None:
    assert resp.status_code == 429, resp.text
    body = resp.json()
    assert body["code"] == "rate_limited"
    assert body["message"]
    retry = int(resp.headers["Retry-After"])
    assert 1 <= retry <= 60
    assert resp.headers["RateLimit-Limit"] == str(limit)
    assert resp.headers["RateLimit-Remaining"] == "0"
    assert 1 <= int(resp.headers["RateLimit-Reset"]) <= 60
    assert resp.headers["RateLimit"].startswith(f"limit={limit}, remaining=0, reset=")
    assert resp.headers["RateLimit-Policy"] == f"{limit};w=60"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"api_rate_limit_per_key": "3/minute", "api_rate_limit_per_tenant": "5/minute"}
    )


async def test_per_key_and_per_tenant_limits(
    client: httpx.AsyncClient, make_tenant: MakeTenant, make_key: MakeKey
) -> None:
    acme = await make_tenant("acme")
    other = await make_tenant("other")
    keys = [await make_key(acme) for _ in range(2)]
    other_key = await make_key(other)
    for _ in range(3):
        assert (await client.get("/api/v1/me", headers={"X-Api-Key": keys[0]})).status_code == 200
    # The fourth request on the same key is over the per-key limit (3/minute).
    _check_429(await client.get("/api/v1/me", headers={"X-Api-Key": keys[0]}), 3)
    # A second key of the same tenant has its own per-key budget but shares the tenant's (5/minute):
    # the tenant has used 4 hits, so one more passes and the next is refused by the tenant limit.
    assert (await client.get("/api/v1/me", headers={"X-Api-Key": keys[1]})).status_code == 200
    _check_429(await client.get("/api/v1/me", headers={"X-Api-Key": keys[1]}), 5)
    # A refused request is refused before its handler: a send is not stored.
    resp = await client.post("/api/v1/messages", headers={"X-Api-Key": keys[1]}, json={})
    assert resp.status_code == 429
    # Another tenant is unaffected.
    for _ in range(3):
        assert (await client.get("/api/v1/me", headers={"X-Api-Key": other_key})).status_code == 200
    # Unauthenticated requests are 401, not counted against anyone.
    assert (await client.get("/api/v1/me", headers={"X-Api-Key": "nope"})).status_code == 401


async def test_every_counted_response_carries_the_ratelimit_headers(
    client: httpx.AsyncClient, make_tenant: MakeTenant, make_key: MakeKey
) -> None:
    key = await make_key(await make_tenant("acme"))
    seen = []
    for _ in range(3):
        resp = await client.get("/api/v1/me", headers={"X-Api-Key": key})
        assert resp.status_code == 200
        assert "Retry-After" not in resp.headers
        # The per-key limit (3/minute) is closer to running out than the tenant's (5/minute).
        assert resp.headers["RateLimit-Limit"] == "3"
        assert resp.headers["RateLimit-Policy"] == "3;w=60"
        assert resp.headers["RateLimit"].startswith(
            f"limit=3, remaining={resp.headers['RateLimit-Remaining']}"
        )
        assert 1 <= int(resp.headers["RateLimit-Reset"]) <= 60
        seen.append(int(resp.headers["RateLimit-Remaining"]))
    assert seen == [2, 1, 0]
    # An error after the count carries them too (here a 404 from the handler) ...
    other = await make_key(await make_tenant("other"))
    resp = await client.get("/api/v1/sender-numbers/999999", headers={"X-Api-Key": other})
    assert resp.status_code == 404
    assert resp.headers["RateLimit-Remaining"] == "2"
    # ... and a request that is not counted (no valid key) has none.
    resp = await client.get("/api/v1/me", headers={"X-Api-Key": "nope"})
    assert resp.status_code == 401
    assert "RateLimit-Limit" not in resp.headers and "RateLimit" not in resp.headers


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    prefix = f"tgo-rl-test-{uuid.uuid4().hex[:12]}"
    yield prefix
    r = aioredis.Redis.from_url(REDIS_URL)
    try:
        async for key in r.scan_iter(f"{prefix}:*"):
            await r.delete(key)
    finally:
        await r.aclose()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_limits_shared_across_processes_through_redis(
    settings: Settings, tmp_path: Path, make_tenant: MakeTenant, make_key: MakeKey, redis_prefix: str
) -> None:
    """Two app instances (as two API processes) on one Redis and one key prefix share the counters."""
    acme = await make_tenant("acme")
    other = await make_tenant("other")
    key = await make_key(acme)
    other_key = await make_key(other)
    shared = settings.model_copy(update={"redis_url": REDIS_URL, "queue_name": redis_prefix})
    runtimes = [build_runtime(shared), build_runtime(shared)]
    for rt in runtimes:
        await rt.start()
    try:
        apps = [create_app(shared, rt) for rt in runtimes]
        clients = [
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=cast(Any, a)), base_url="http://testserver.local"
            )
            for a in apps
        ]
        codes = []
        for i in range(4):
            resp = await clients[i % 2].get("/api/v1/me", headers={"X-Api-Key": key})
            codes.append(resp.status_code)
        # 3/minute per key, counted across both instances: the fourth (on the second instance) is refused.
        assert codes == [200, 200, 200, 429]
        _check_429(await clients[0].get("/api/v1/me", headers={"X-Api-Key": key}), 3)
        assert (await clients[1].get("/api/v1/me", headers={"X-Api-Key": other_key})).status_code == 200
        r = aioredis.Redis.from_url(REDIS_URL)
        try:
            stored = [k async for k in r.scan_iter(f"{redis_prefix}:api-rl:*")]
        finally:
            await r.aclose()
        assert stored, "the counters live in Redis under the deployment's prefix"
        for c in clients:
            await c.aclose()
    finally:
        for rt in runtimes:
            await rt.close()
