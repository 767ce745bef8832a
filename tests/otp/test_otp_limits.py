"""OTP limits are kept per phone in a ledger (issue 12, item 1): deleting a number and registering it
again, using several tenants or parallel requests does not get a phone's owner more OTPs or an attacker
more guesses."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import func, select

from tests.conftest import Clock, MakeKey, MakeTenant
from tests.fixtures.connect import ConnectHelper
from tgo.config import Settings
from tgo.models import OtpEvent, SenderNumber, Tenant
from tgo.models.otp_event import OtpEventKind
from tgo.runtime import Runtime

VICTIM = "+201010000000"  # someone else's Connect phone
DAY_SECONDS = 24 * 3600


@pytest.fixture
def connect(runtime: Runtime) -> ConnectHelper:
    return ConnectHelper(runtime)


async def register(client: httpx.AsyncClient, headers: dict[str, str], phone: str = VICTIM) -> httpx.Response:
    return await client.post(
        "/api/v1/sender-numbers", json={"phone": phone, "display_name": "Support"}, headers=headers
    )


async def verify(
    client: httpx.AsyncClient, headers: dict[str, str], number_id: int, code: str
) -> httpx.Response:
    return await client.post(
        f"/api/v1/sender-numbers/{number_id}/verify", json={"otp": code}, headers=headers
    )


def wrong_of(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def otp_messages(connect: ConnectHelper, phone: str = VICTIM) -> int:
    return sum(1 for m in await connect.inbox(phone) if m.content and "verification code is" in m.content)


async def rows_of(runtime: Runtime, tenant_id: int) -> int:
    """Every sender_numbers row of the tenant, deleted ones included."""
    async with runtime.db.session_scope() as s:
        return int(
            await s.scalar(
                select(func.count()).select_from(SenderNumber).where(SenderNumber.tenant_id == tenant_id)
            )
            or 0
        )


async def ledger_count(runtime: Runtime, kind: OtpEventKind, phone: str = VICTIM) -> int:
    async with runtime.db.session_scope() as s:
        return int(
            await s.scalar(
                select(func.count())
                .select_from(OtpEvent)
                .where(OtpEvent.phone == phone, OtpEvent.kind == kind)
            )
            or 0
        )


async def tenants_with_keys(
    make_tenant: MakeTenant, make_key: MakeKey, n: int
) -> list[tuple[Tenant, dict[str, str]]]:
    out = []
    for i in range(n):
        t = await make_tenant(f"org{i}")
        out.append((t, {"X-Api-Key": await make_key(t)}))
    return out


async def test_delete_and_register_again_resets_nothing(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    tenant: Tenant,
    connect: ConnectHelper,
    runtime: Runtime,
    frozen_clock: Clock,
) -> None:
    await connect.account(VICTIM, verified=True)
    num = (await register(client, headers)).json()
    code = await connect.otp(VICTIM)
    for _ in range(5):
        await verify(client, headers, num["id"], wrong_of(code))
    assert (await client.delete(f"/api/v1/sender-numbers/{num['id']}", headers=headers)).status_code == 204
    # The attack of the issue: at once a new registration, a new OTP and 5 fresh tries. Now: the cool-down.
    r = await register(client, headers)
    assert r.status_code == 429 and r.json()["code"] == "otp_resend_cooldown", r.text
    assert 0 < int(r.headers["retry-after"]) <= 60
    assert await otp_messages(connect) == 1
    assert await rows_of(runtime, tenant.id) == 1  # the refused registration left no row
    # Cycling after each cool-down still meets the hourly cap of the (tenant, phone): 5 OTPs per hour.
    for _ in range(4):
        frozen_clock.advance(seconds=61)
        num = (await register(client, headers)).json()
        assert "id" in num, num
        assert (
            await client.delete(f"/api/v1/sender-numbers/{num['id']}", headers=headers)
        ).status_code == 204
    frozen_clock.advance(seconds=61)
    r = await register(client, headers)
    assert r.status_code == 429 and r.json()["code"] == "otp_hourly_limit", r.text
    assert int(r.headers["retry-after"]) > 0
    assert await otp_messages(connect) == 5
    assert await rows_of(runtime, tenant.id) == 5


async def test_wrong_codes_lock_the_tenant_out_of_the_phone_for_a_day(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    tenant: Tenant,
    connect: ConnectHelper,
    runtime: Runtime,
    frozen_clock: Clock,
    make_tenant: MakeTenant,
    make_key: MakeKey,
) -> None:
    await connect.account(VICTIM, verified=True, lang="ar")
    num = (await register(client, headers)).json()
    for _ in range(5):  # the first OTP is void after 5 wrong codes
        await verify(client, headers, num["id"], wrong_of(await connect.otp(VICTIM)))
    # Deleting and registering again keeps the 5 wrong codes counted against this tenant and phone.
    await client.delete(f"/api/v1/sender-numbers/{num['id']}", headers=headers)
    frozen_clock.advance(seconds=61)
    num = (await register(client, headers)).json()
    code = await connect.otp(VICTIM)
    for i in range(4):
        r = await verify(client, headers, num["id"], wrong_of(code))
        assert r.status_code == 422 and r.json()["attempts_remaining"] == 4 - i
    r = await verify(client, headers, num["id"], wrong_of(code))  # the 10th wrong code today
    assert r.status_code == 429 and r.json()["code"] == "otp_verification_locked", r.text
    assert int(r.headers["retry-after"]) == DAY_SECONDS
    # The owner is told in their Connect inbox, in their language, naming the organization.
    notice = await connect.last_message(VICTIM)
    assert "acme" in (notice.content or "") and "رموز التحقق الخاطئة" in (notice.content or "")
    assert notice.type == "system"
    # For the rest of the day: no code is accepted, no new OTP, no new registration (and no row left).
    frozen_clock.advance(hours=1)
    r = await verify(client, headers, num["id"], code)
    assert r.status_code == 429 and r.json()["code"] == "otp_verification_locked"
    assert int(r.headers["retry-after"]) == DAY_SECONDS - 3600
    r = await client.post(f"/api/v1/sender-numbers/{num['id']}/resend-otp", headers=headers)
    assert r.status_code == 429 and r.json()["code"] == "otp_verification_locked"
    await client.delete(f"/api/v1/sender-numbers/{num['id']}", headers=headers)
    rows = await rows_of(runtime, tenant.id)
    r = await register(client, headers)
    assert r.status_code == 429 and r.json()["code"] == "otp_verification_locked"
    assert int(r.headers["retry-after"]) == DAY_SECONDS - 3600
    assert await rows_of(runtime, tenant.id) == rows
    assert await otp_messages(connect) == 0  # Arabic OTPs: none in English
    # Another tenant is not locked out by this one's guesses.
    other = await make_tenant("other")
    assert (await register(client, {"X-Api-Key": await make_key(other)})).status_code == 201
    # A day after the lockout the tenant may start again.
    frozen_clock.advance(hours=23, seconds=1)
    assert (await register(client, headers)).status_code == 201


async def test_a_phone_gets_at_most_ten_otps_a_day_from_all_tenants(
    client: httpx.AsyncClient,
    connect: ConnectHelper,
    runtime: Runtime,
    frozen_clock: Clock,
    make_tenant: MakeTenant,
    make_key: MakeKey,
) -> None:
    await connect.account(VICTIM, verified=True)
    orgs = await tenants_with_keys(make_tenant, make_key, 11)
    for _, h in orgs[:10]:
        assert (await register(client, h)).status_code == 201
        frozen_clock.advance(minutes=30)
    last_tenant, last = orgs[10]
    r = await register(client, last)
    assert r.status_code == 429 and r.json()["code"] == "otp_daily_limit", r.text
    # The first OTP was sent 5 h ago (10 × 30 min): it leaves the 24 h window in 19 h.
    assert int(r.headers["retry-after"]) == 19 * 3600
    assert await otp_messages(connect) == 10
    assert await rows_of(runtime, last_tenant.id) == 0
    # A resend of an earlier tenant is refused as well.
    _, first = orgs[0]
    number_id = (await client.get("/api/v1/sender-numbers", headers=first)).json()["data"][0]["id"]
    r = await client.post(f"/api/v1/sender-numbers/{number_id}/resend-otp", headers=first)
    assert r.status_code == 429 and r.json()["code"] == "otp_daily_limit"
    frozen_clock.advance(hours=19)
    assert (await register(client, last)).status_code == 201
    assert await otp_messages(connect) == 11


async def test_parallel_registrations_from_many_tenants_stay_under_the_daily_cap(
    client: httpx.AsyncClient,
    connect: ConnectHelper,
    runtime: Runtime,
    make_tenant: MakeTenant,
    make_key: MakeKey,
) -> None:
    await connect.account(VICTIM, verified=True)
    orgs = await tenants_with_keys(make_tenant, make_key, 14)
    results = await asyncio.gather(*(register(client, h) for _, h in orgs))
    statuses = sorted(r.status_code for r in results)
    assert statuses == [201] * 10 + [429] * 4, [r.text for r in results]
    assert {r.json()["code"] for r in results if r.status_code == 429} == {"otp_daily_limit"}
    assert await otp_messages(connect) == 10
    assert await ledger_count(runtime, OtpEventKind.SENT) == 10
    refused = [t for (t, _), r in zip(orgs, results, strict=True) if r.status_code == 429]
    for t in refused:
        assert await rows_of(runtime, t.id) == 0


class TestParallelWrongCodes:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(update={"otp_max_wrong_codes_per_day": 3})

    async def test_parallel_wrong_codes_do_not_slip_past_the_day_cap(
        self, client: httpx.AsyncClient, headers: dict[str, str], connect: ConnectHelper, runtime: Runtime
    ) -> None:
        await connect.account(VICTIM, verified=True)
        num = (await register(client, headers)).json()
        code = await connect.otp(VICTIM)
        results = await asyncio.gather(
            *(verify(client, headers, num["id"], wrong_of(code)) for _ in range(8))
        )
        codes = sorted(r.json()["code"] for r in results)
        assert codes == ["otp_invalid"] * 2 + ["otp_verification_locked"] * 6, [r.text for r in results]
        assert await ledger_count(runtime, OtpEventKind.WRONG_CODE) == 3
        assert await ledger_count(runtime, OtpEventKind.LOCKED) == 1
        notices = [
            m for m in await connect.inbox(VICTIM) if "too many wrong verification codes" in (m.content or "")
        ]
        assert len(notices) == 1
        r = await verify(client, headers, num["id"], code)
        assert r.status_code == 429 and r.json()["code"] == "otp_verification_locked"


async def test_ledger_forgets_a_phones_events_once_no_limit_needs_them(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    connect: ConnectHelper,
    runtime: Runtime,
    frozen_clock: Clock,
) -> None:
    await connect.account(VICTIM, verified=True)
    num = (await register(client, headers)).json()
    await verify(client, headers, num["id"], wrong_of(await connect.otp(VICTIM)))
    assert await ledger_count(runtime, OtpEventKind.SENT) == 1
    assert await ledger_count(runtime, OtpEventKind.WRONG_CODE) == 1
    frozen_clock.advance(hours=48, seconds=1)
    assert (
        await client.post(f"/api/v1/sender-numbers/{num['id']}/resend-otp", headers=headers)
    ).status_code == 200
    assert await ledger_count(runtime, OtpEventKind.SENT) == 1  # only the new one
    assert await ledger_count(runtime, OtpEventKind.WRONG_CODE) == 0
