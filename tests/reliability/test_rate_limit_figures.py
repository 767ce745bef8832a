"""Rate-limit figures for the table: a burst over the per-key limit, and a second tenant during the burst."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, cast

import httpx
import pytest

from tests.conftest import MakeKey, MakeTenant
from tests.reliability.report import record
from tgo.app import create_app
from tgo.config import Settings
from tgo.wiring import build_runtime


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"api_rate_limit_per_key": "50/minute", "api_rate_limit_per_tenant": "80/minute"}
    )


@pytest.mark.reliability
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_rate_limit_burst(
    client: httpx.AsyncClient, make_tenant: MakeTenant, make_key: MakeKey
) -> None:
    busy = await make_key(await make_tenant("busy"))
    calm = await make_key(await make_tenant("calm"))
    codes = await asyncio.gather(*(client.get("/api/v1/me", headers={"X-Api-Key": busy}) for _ in range(200)))
    ok = sum(1 for r in codes if r.status_code == 200)
    limited = [r for r in codes if r.status_code == 429]
    other = await asyncio.gather(*(client.get("/api/v1/me", headers={"X-Api-Key": calm}) for _ in range(40)))
    other_ok = sum(1 for r in other if r.status_code == 200)
    record(
        "rate_limits",
        per_key_limit="50/minute",
        burst_requests=200,
        burst_ok=ok,
        burst_429=len(limited),
        all_429_have_retry_after_and_ratelimit=all(
            "retry-after" in r.headers and "ratelimit-limit" in r.headers for r in limited
        ),
        other_tenant_ok=f"{other_ok}/40",
    )
    assert ok == 50 and len(limited) == 150
    assert other_ok == 40


@pytest.mark.reliability
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_rate_limit_shared_across_api_processes(
    settings: Settings, make_tenant: MakeTenant, make_key: MakeKey
) -> None:
    """Two app instances (as two API processes) on one Redis: the per-key budget is shared, not doubled."""
    key = await make_key(await make_tenant("shared"))
    shared = settings.model_copy(
        update={"redis_url": "redis://127.0.0.1:6379/0", "queue_name": f"tgo-rl-rel-{uuid.uuid4().hex[:10]}"}
    )
    runtimes = [build_runtime(shared), build_runtime(shared)]
    for rt in runtimes:
        await rt.start()
    clients = [
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=cast(Any, create_app(shared, rt))), base_url="http://t.local"
        )
        for rt in runtimes
    ]
    try:
        codes = await asyncio.gather(
            *(clients[i % 2].get("/api/v1/me", headers={"X-Api-Key": key}) for i in range(120))
        )
    finally:
        for c in clients:
            await c.aclose()
        for rt in runtimes:
            await rt.close()
    ok = sum(1 for r in codes if r.status_code == 200)
    limited = sum(1 for r in codes if r.status_code == 429)
    with_headers = sum(1 for r in codes if "ratelimit-policy" in r.headers)
    record(
        "rate_limits",
        shared_two_processes_requests=120,
        shared_two_processes_ok=ok,
        shared_two_processes_429=limited,
        responses_with_ratelimit_headers=f"{with_headers}/120",
    )
    assert (ok, limited) == (50, 70)
    assert with_headers == 120
