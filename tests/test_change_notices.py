"""The caches of keys and sender numbers are per process; a change made in one process reaches every other
one through the change notices (PostgreSQL LISTEN/NOTIFY, or Redis pub/sub when TGO_REDIS_URL is set): two
app instances sharing one PostgreSQL, each with its own runtime, caches and listener. A revoked key and a
suspended sender are refused by the other instance within 1 s (the TTL safety net is 30 s); a reachability
change applied by one is seen by the other's directory within 1 s; an opt-out added by one is refused by the
other within 1 s."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any, cast

import httpx
import pytest

from tests.fixtures.fake_connect import FakeConnect
from tgo.apikeys.service import create_api_key, list_api_keys, revoke_api_key
from tgo.app import create_app
from tgo.channels.connect_types import Reachability
from tgo.config import Settings
from tgo.kit.clock import now
from tgo.models import SenderNumber, Tenant
from tgo.optouts.service import is_opted_out, opt_out, opted_out_among
from tgo.reachability.directory import apply_snapshot
from tgo.runtime import Runtime
from tgo.senders.service import operator_action
from tgo.tenants.service import create_tenant
from tgo.wiring import build_runtime

pytestmark = pytest.mark.postgres_only

OWNER = "+201000000001"
RECIPIENT = "+201000000002"
REDIS_URL = "redis://127.0.0.1:6379/0"


class Instance:
    """One app process's worth of parts: a runtime and an HTTP client on its app."""

    def __init__(self, runtime: Runtime, client: httpx.AsyncClient) -> None:
        self.runtime = runtime
        self.client = client


@pytest.fixture(params=["postgres", "redis"])
def bus_settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    if request.param == "redis":
        return settings.model_copy(update={"redis_url": REDIS_URL})
    return settings


@pytest.fixture
async def instances(bus_settings: Settings) -> AsyncIterator[tuple[Instance, Instance]]:
    fake = FakeConnect()
    fake.add_account(OWNER)
    fake.add_account(RECIPIENT)
    made: list[Instance] = []
    for _ in range(2):
        rt = build_runtime(bus_settings, connect=fake)
        await rt.start()
        app = create_app(bus_settings, rt)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=cast(Any, app)), base_url="http://test")
        made.append(Instance(rt, client))
    try:
        yield made[0], made[1]
    finally:
        for inst in made:
            await inst.client.aclose()
            await inst.runtime.close()


async def _until(predicate: Any, within: float) -> float:
    """Seconds until ``await predicate()`` is true; fails after ``within`` seconds."""
    started = time.monotonic()
    while not await predicate():
        assert time.monotonic() - started < within, f"not within {within} s"
        await asyncio.sleep(0.01)
    return time.monotonic() - started


async def _setup(a: Instance) -> tuple[Tenant, str, int]:
    async with a.runtime.db.session_scope() as s:
        tenant = await create_tenant(s, slug="acme", domain="acme.localhost")
    async with a.runtime.db.session_scope() as s:
        _, key = await create_api_key(s, tenant.id, name="k", scopes="*")
        at = now()
        number = SenderNumber(
            tenant_id=tenant.id,
            phone=OWNER,
            status="active",
            verification_status="verified",
            otp_verified_at=at,
            account_verified_at=at,
            activated_at=at,
            status_changed_at=at,
            created_at=at,
            updated_at=at,
        )
        s.add(number)
        await s.flush()
        number_id = number.id
    return tenant, key, number_id


async def _warm(inst: Instance, key: str) -> None:
    """Make ``inst`` serve the key from its cache (its listener is up and the entry is stored): within 5 s a
    request is answered from the cache."""
    cache = inst.runtime.key_cache.get()
    hits = cache.keys.hits

    async def served_from_cache() -> bool:
        r = await inst.client.get("/api/v1/me", headers={"X-Api-Key": key})
        assert r.status_code == 200, r.text
        return cache.keys.hits > hits

    await _until(served_from_cache, 5)


async def test_a_key_revoked_in_one_process_is_refused_by_the_other_within_a_second(
    instances: tuple[Instance, Instance],
) -> None:
    a, b = instances
    tenant, key, _ = await _setup(a)
    await _warm(b, key)
    async with a.runtime.db.session_scope() as s:
        kid = (await list_api_keys(s, tenant.id))[0].id
        await revoke_api_key(s, tenant.id, kid)

    async def refused() -> bool:
        r = await b.client.get("/api/v1/me", headers={"X-Api-Key": key})
        return r.status_code == 401

    assert await _until(refused, 1.0) < 1.0


async def test_a_sender_suspended_in_one_process_is_refused_by_the_other_within_a_second(
    instances: tuple[Instance, Instance],
) -> None:
    a, b = instances
    _, key, number_id = await _setup(a)
    body = {"sender_number_id": number_id, "to_phone": RECIPIENT, "type": "text", "content": "hi"}
    headers = {"X-Api-Key": key}
    await _warm(b, key)
    cache = b.runtime.sender_cache.get().numbers
    for _ in range(2):
        r = await b.client.post("/api/v1/messages", json=body, headers=headers)
        assert r.status_code == 201, r.text
    assert cache.hits >= 1, "the sender was not served from the cache"
    async with a.runtime.db.session_scope() as s:
        await operator_action(s, number_id, "suspend")

    async def refused() -> bool:
        r = await b.client.post("/api/v1/messages", json=body, headers=headers)
        return r.status_code == 422 and r.json()["code"] == "sender_not_active"

    assert await _until(refused, 1.0) < 1.0


async def test_a_lost_listener_serves_nothing_from_the_cache(instances: tuple[Instance, Instance]) -> None:
    """While the notices cannot arrive, the cache is bypassed (every request reads the database)."""
    a, b = instances
    _, key, _ = await _setup(a)
    await _warm(b, key)
    cache = b.runtime.key_cache.get()
    await b.runtime.notices.aclose()  # the listener is gone, as after a lost connection
    assert not b.runtime.notices.healthy
    hits = cache.keys.hits
    assert (await b.client.get("/api/v1/me", headers={"X-Api-Key": key})).status_code == 200
    assert cache.keys.hits == hits


async def test_a_reachability_change_applied_in_one_process_reaches_the_others_cache(
    instances: tuple[Instance, Instance],
) -> None:
    """The directory is filled by whichever process receives Connect's event; every other process's cached
    entry of that phone is dropped by the notice."""
    a, b = instances
    snap = Reachability(
        phone=RECIPIENT,
        version=1,
        recipient_id=7,
        disabled=False,
        phone_verified_at=now(),
        account_verified=True,
        blocked_senders=[],
    )
    async with a.runtime.db.session_scope() as s:
        await apply_snapshot(s, snap)
    directory = b.runtime.reachability.get()

    async def cached() -> bool:
        hits = directory.entries.hits
        found = await directory.lookup(RECIPIENT, OWNER)
        return found is not None and found.can_receive and directory.entries.hits > hits

    await _until(cached, 5)
    snap.version, snap.blocked_senders = 2, [OWNER]
    async with a.runtime.db.session_scope() as s:
        await apply_snapshot(s, snap)

    async def blocked() -> bool:
        found = await directory.lookup(RECIPIENT, OWNER)
        return found is not None and found.reason_code == "blocked_sender"

    assert await _until(blocked, 1.0) < 1.0


@pytest.mark.parametrize("how", ["api", "keyword"])
async def test_an_opt_out_in_one_process_is_refused_by_the_other_within_a_second(
    instances: tuple[Instance, Instance], how: str
) -> None:
    """The suppression list is cached per process (both answers); an opt-out added by one process (the API's
    POST /api/v1/opt-outs, or a STOP applied by whichever process received it) is refused by every other one
    within 1 s, and a removal is honoured as fast."""
    a, b = instances
    tenant, key, number_id = await _setup(a)
    body = {"sender_number_id": number_id, "to_phone": RECIPIENT, "type": "text", "content": "hi"}
    headers = {"X-Api-Key": key}
    await _warm(b, key)
    cache = b.runtime.optout_cache.get().entries
    for _ in range(2):
        r = await b.client.post("/api/v1/messages", json=body, headers=headers)
        assert r.status_code == 201, r.text
    assert cache.hits >= 1, "the opt-out check was not served from the cache"
    if how == "api":
        r = await a.client.post("/api/v1/opt-outs", json={"phone": RECIPIENT}, headers=headers)
        assert r.status_code == 201, r.text
    else:
        async with a.runtime.db.session_scope() as s:
            assert await opt_out(s, tenant.id, RECIPIENT, channel="connect", source="keyword")

    async def refused() -> bool:
        r = await b.client.post("/api/v1/messages", json=body, headers=headers)
        return r.status_code == 422 and r.json()["code"] == "recipient_opted_out"

    assert await _until(refused, 1.0) < 1.0
    async with b.runtime.db.session_scope() as s:
        assert await is_opted_out(s, tenant.id, RECIPIENT)  # the delivery's check, cached in b
    r = await a.client.delete(f"/api/v1/opt-outs/{RECIPIENT}", headers=headers)
    assert r.status_code == 204, r.text

    async def accepted() -> bool:
        r = await b.client.post("/api/v1/messages", json=body, headers=headers)
        return r.status_code == 201

    assert await _until(accepted, 1.0) < 1.0


async def test_the_batch_opt_out_check_is_cached_and_dropped_by_a_change(
    instances: tuple[Instance, Instance],
) -> None:
    a, b = instances
    tenant, _, _ = await _setup(a)
    phones = [OWNER, RECIPIENT, "+201000000003"]
    async with a.runtime.db.session_scope() as s:
        await opt_out(s, tenant.id, RECIPIENT, channel="connect", source="api")
        await opt_out(s, tenant.id, OWNER, channel="sms", source="api")  # another channel's list
    cache = b.runtime.optout_cache.get().entries

    async def among() -> set[str]:
        async with b.runtime.db.session_scope() as s:
            return await opted_out_among(s, tenant.id, phones)

    async def served_from_cache() -> bool:
        hits = cache.hits
        assert await among() == {RECIPIENT}
        return cache.hits >= hits + len(phones)

    await _until(served_from_cache, 5)
    async with b.runtime.db.session_scope() as s:
        assert await opted_out_among(s, tenant.id, []) == set()
        assert await opted_out_among(s, tenant.id, [OWNER], channel="sms") == {OWNER}
    async with a.runtime.db.session_scope() as s:
        await opt_out(s, tenant.id, "+201000000003", channel="connect", source="api")

    async def changed() -> bool:
        return await among() == {RECIPIENT, "+201000000003"}

    assert await _until(changed, 1.0) < 1.0


async def test_an_opt_out_rolled_back_is_never_cached(instances: tuple[Instance, Instance]) -> None:
    """A transaction reads its own uncommitted change past the cache, so a rollback leaves nothing stale."""
    a, _ = instances
    tenant, _, _ = await _setup(a)
    with pytest.raises(RuntimeError):
        async with a.runtime.db.session_scope() as s:
            await opt_out(s, tenant.id, RECIPIENT, channel="connect", source="api")
            assert await is_opted_out(s, tenant.id, RECIPIENT)
            raise RuntimeError("roll back")
    async with a.runtime.db.session_scope() as s:
        assert not await is_opted_out(s, tenant.id, RECIPIENT)
