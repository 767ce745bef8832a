"""Rate-limit figures for the table: a burst over the per-key limit, and a second tenant during the burst."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.conftest import MakeKey, MakeTenant
from tests.reliability.report import record
from tgo.config import Settings


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
