"""Sender numbers: every row of the SPEC section 4 status table, OTP rules, isolation, bad input."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.conftest import Clock, MakeKey, MakeTenant
from tests.fixtures.connect import ConnectHelper
from tgo.runtime import Runtime

OWNER = "+201001187188"
OTHER = "+201001187189"


@pytest.fixture
def connect(runtime: Runtime) -> ConnectHelper:
    return ConnectHelper(runtime)


async def register(
    client: httpx.AsyncClient, headers: dict[str, str], phone: str = OWNER, **extra: Any
) -> httpx.Response:
    return await client.post(
        "/api/v1/sender-numbers", json={"phone": phone, "display_name": "Support", **extra}, headers=headers
    )


async def test_registered_is_pending_verification_and_otp_arrives_in_owner_language(
    client: httpx.AsyncClient, headers: dict[str, str], connect: ConnectHelper
) -> None:
    await connect.account(OWNER, verified=True, lang="ar")
    r = await register(client, headers)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "pending_verification" and body["verification_status"] == "pending_otp"
    assert body["can_send"] is False and body["phone"] == OWNER and body["display_name"] == "Support"
    assert r.headers["location"] == f"/api/v1/sender-numbers/{body['id']}"
    msg = await connect.last_message(OWNER)
    assert "acme" in (msg.content or "") and "رمز" in (msg.content or "")  # Arabic, naming the organization
    assert len(await connect.otp(OWNER)) == 6


async def test_otp_accepted_with_verified_account_is_active(
    client: httpx.AsyncClient, headers: dict[str, str], connect: ConnectHelper
) -> None:
    await connect.account(OWNER, verified=True)
    num = (await register(client, headers)).json()
    r = await client.post(
        f"/api/v1/sender-numbers/{num['id']}/verify", json={"otp": await connect.otp(OWNER)}, headers=headers
    )
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["verification_status"], r.json()["can_send"]) == (
        "active",
        "verified",
        True,
    )


async def test_otp_accepted_with_unverified_account_waits(
    client: httpx.AsyncClient, headers: dict[str, str], connect: ConnectHelper
) -> None:
    await connect.account(OWNER, verified=False)
    num = (await register(client, headers)).json()
    r = await client.post(
        f"/api/v1/sender-numbers/{num['id']}/verify", json={"otp": await connect.otp(OWNER)}, headers=headers
    )
    body = r.json()
    assert (body["status"], body["verification_status"], body["can_send"]) == (
        "pending_account_verification",
        "pending_account_verification",
        False,
    )


async def _pending_account(client: httpx.AsyncClient, headers: dict[str, str], connect: ConnectHelper) -> int:
    await connect.account(OWNER, verified=False)
    num = (await register(client, headers)).json()
    await client.post(
        f"/api/v1/sender-numbers/{num['id']}/verify", json={"otp": await connect.otp(OWNER)}, headers=headers
    )
    return int(num["id"])


async def wait_for(
    client: httpx.AsyncClient, headers: dict[str, str], number_id: int, **expected: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for _ in range(100):
        body = (await client.get(f"/api/v1/sender-numbers/{number_id}", headers=headers)).json()
        if all(body[k] == v for k, v in expected.items()):
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"{body} never reached {expected}")


async def test_account_verified_later_activates_automatically_without_new_otp(
    client: httpx.AsyncClient, headers: dict[str, str], connect: ConnectHelper
) -> None:
    number_id = await _pending_account(client, headers, connect)
    sent_before = len(await connect.inbox(OWNER))
    await connect.set_verified(OWNER, True)
    body = await wait_for(client, headers, number_id, status="active", verification_status="verified")
    assert body["can_send"] is True
    assert len(await connect.inbox(OWNER)) == sent_before  # no new OTP


async def test_active_number_losing_account_verification_stays_active(
    client: httpx.AsyncClient, headers: dict[str, str], connect: ConnectHelper
) -> None:
    await connect.account(OWNER, verified=True)
    num = (await register(client, headers)).json()
    await client.post(
        f"/api/v1/sender-numbers/{num['id']}/verify", json={"otp": await connect.otp(OWNER)}, headers=headers
    )
    await connect.set_verified(OWNER, False)
    body = await wait_for(client, headers, num["id"], verification_status="pending_account_verification")
    assert body["status"] == "active" and body["can_send"] is False
    await connect.set_verified(OWNER, True)
    body = await wait_for(client, headers, num["id"], verification_status="verified")
    assert body["status"] == "active" and body["can_send"] is True


@pytest.mark.parametrize(("action", "status"), [("reject", "rejected"), ("suspend", "suspended")])
async def test_operator_reject_and_suspend_keep_verification_status(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    connect: ConnectHelper,
    runtime: Runtime,
    action: str,
    status: str,
) -> None:
    from tgo.senders.service import operator_action

    await connect.account(OWNER, verified=True)
    num = (await register(client, headers)).json()
    await client.post(
        f"/api/v1/sender-numbers/{num['id']}/verify", json={"otp": await connect.otp(OWNER)}, headers=headers
    )
    async with runtime.db.session_scope() as s:
        await operator_action(s, num["id"], action)
    body = (await client.get(f"/api/v1/sender-numbers/{num['id']}", headers=headers)).json()
    assert (body["status"], body["verification_status"], body["can_send"]) == (status, "verified", False)
    if action == "suspend":
        async with runtime.db.session_scope() as s:
            await operator_action(s, num["id"], "unsuspend")
        body = (await client.get(f"/api/v1/sender-numbers/{num['id']}", headers=headers)).json()
        assert (body["status"], body["can_send"]) == ("active", True)


async def test_otp_expiry_with_controlled_clock(
    client: httpx.AsyncClient, headers: dict[str, str], connect: ConnectHelper, frozen_clock: Clock
) -> None:
    await connect.account(OWNER, verified=True)
    num = (await register(client, headers)).json()
    code = await connect.otp(OWNER)
    frozen_clock.advance(minutes=10, seconds=1)
    r = await client.post(f"/api/v1/sender-numbers/{num['id']}/verify", json={"otp": code}, headers=headers)
    assert r.status_code == 422 and r.json()["code"] == "otp_expired"
    assert (await client.get(f"/api/v1/sender-numbers/{num['id']}", headers=headers)).json()["status"] == (
        "pending_verification"
    )


async def test_five_wrong_codes_void_the_otp(
    client: httpx.AsyncClient, headers: dict[str, str], connect: ConnectHelper
) -> None:
    await connect.account(OWNER, verified=True)
    num = (await register(client, headers)).json()
    code = await connect.otp(OWNER)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    url = f"/api/v1/sender-numbers/{num['id']}/verify"
    for i in range(4):
        r = await client.post(url, json={"otp": wrong}, headers=headers)
        assert r.status_code == 422 and r.json()["code"] == "otp_invalid"
        assert r.json()["attempts_remaining"] == 4 - i
    r = await client.post(url, json={"otp": wrong}, headers=headers)
    assert r.json()["code"] == "otp_attempts_exceeded"
    r = await client.post(url, json={"otp": code}, headers=headers)  # even the right code is void now
    assert r.status_code == 422 and r.json()["code"] in ("otp_attempts_exceeded", "otp_expired")


async def test_resend_cooldown_and_hourly_cap(
    client: httpx.AsyncClient, headers: dict[str, str], connect: ConnectHelper, frozen_clock: Clock
) -> None:
    await connect.account(OWNER, verified=True)
    num = (await register(client, headers)).json()
    url = f"/api/v1/sender-numbers/{num['id']}/resend-otp"
    r = await client.post(url, headers=headers)
    assert (
        r.status_code == 429
        and r.json()["code"] == "otp_resend_cooldown"
        and int(r.headers["retry-after"]) > 0
    )
    for _ in range(4):
        frozen_clock.advance(seconds=61)
        assert (await client.post(url, headers=headers)).status_code == 200
    frozen_clock.advance(seconds=61)
    r = await client.post(url, headers=headers)
    assert r.status_code == 429 and r.json()["code"] == "otp_hourly_limit"
    frozen_clock.advance(hours=1)
    assert (await client.post(url, headers=headers)).status_code == 200


async def test_old_otp_is_void_after_resend_and_reuse_after_success_is_refused(
    client: httpx.AsyncClient, headers: dict[str, str], connect: ConnectHelper, frozen_clock: Clock
) -> None:
    await connect.account(OWNER, verified=True)
    num = (await register(client, headers)).json()
    first = await connect.otp(OWNER)
    frozen_clock.advance(seconds=61)
    await client.post(f"/api/v1/sender-numbers/{num['id']}/resend-otp", headers=headers)
    second = await connect.otp(OWNER)
    url = f"/api/v1/sender-numbers/{num['id']}/verify"
    if first != second:
        r = await client.post(url, json={"otp": first}, headers=headers)
        assert r.status_code == 422
    assert (await client.post(url, json={"otp": second}, headers=headers)).status_code == 200
    r = await client.post(url, json={"otp": second}, headers=headers)
    assert r.status_code == 409 and r.json()["code"] == "sender_not_pending_verification"


async def test_two_concurrent_verifies_with_the_right_code_succeed_once(
    client: httpx.AsyncClient, headers: dict[str, str], connect: ConnectHelper
) -> None:
    await connect.account(OWNER, verified=True)
    num = (await register(client, headers)).json()
    code = await connect.otp(OWNER)
    url = f"/api/v1/sender-numbers/{num['id']}/verify"
    results = await asyncio.gather(*(client.post(url, json={"otp": code}, headers=headers) for _ in range(2)))
    codes = sorted(r.status_code for r in results)
    assert codes[0] == 200 and codes[1] in (409, 422), [r.text for r in results]


async def test_same_number_in_two_tenants_is_independent(
    client: httpx.AsyncClient, connect: ConnectHelper, make_tenant: MakeTenant, make_key: MakeKey
) -> None:
    await connect.account(OWNER, verified=True)
    a, b = await make_tenant("alpha"), await make_tenant("beta")
    ha, hb = {"X-Api-Key": await make_key(a)}, {"X-Api-Key": await make_key(b)}
    na = (await register(client, ha)).json()
    code_a = await connect.otp(OWNER)
    nb = (await register(client, hb)).json()
    code_b = await connect.otp(OWNER)
    assert na["id"] != nb["id"]
    assert (await client.get(f"/api/v1/sender-numbers/{nb['id']}", headers=ha)).status_code == 404
    assert (
        await client.post(f"/api/v1/sender-numbers/{nb['id']}/verify", json={"otp": code_b}, headers=ha)
    ).status_code == 404
    assert (
        await client.post(f"/api/v1/sender-numbers/{na['id']}/verify", json={"otp": code_a}, headers=ha)
    ).status_code == 200
    assert (await client.get(f"/api/v1/sender-numbers/{nb['id']}", headers=hb)).json()["status"] == (
        "pending_verification"
    )
    listed = (await client.get("/api/v1/sender-numbers", headers=hb)).json()["data"]
    assert [n["id"] for n in listed] == [nb["id"]]


async def test_duplicates_deletion_and_bad_input(
    client: httpx.AsyncClient, headers: dict[str, str], connect: ConnectHelper, frozen_clock: Clock
) -> None:
    await connect.account(OWNER, verified=True)
    num = (await register(client, headers)).json()
    r = await register(client, headers, phone="+20 100 118 7188")  # same number, other spelling
    assert r.status_code == 409 and r.json()["code"] == "sender_number_exists"
    for bad in ["12345", "+999", "not a phone", "+2010011871889999", ""]:
        r = await register(client, headers, phone=bad)
        assert r.status_code == 422, bad
        assert r.json()["code"] == "validation_failed" and "phone" in r.json()["errors"]
    r = await register(client, headers, phone="+201001187100")
    assert r.status_code == 422 and r.json()["code"] == "connect_account_not_found"
    url = f"/api/v1/sender-numbers/{num['id']}/verify"
    for bad_otp in ["12345", "1234567", "abcdef", 123456, None]:
        r = await client.post(url, json={"otp": bad_otp}, headers=headers)
        assert r.status_code == 422 and r.json()["code"] == "validation_failed", bad_otp
    assert (
        await client.post("/api/v1/sender-numbers/424242/verify", json={"otp": "123456"}, headers=headers)
    ).status_code == 404
    assert (await client.delete(f"/api/v1/sender-numbers/{num['id']}", headers=headers)).status_code == 204
    assert (await client.get(f"/api/v1/sender-numbers/{num['id']}", headers=headers)).status_code == 404
    # It can be registered again, once the OTP cool-down (counted per phone, not per row) is over.
    assert (await register(client, headers)).json()["code"] == "otp_resend_cooldown"
    frozen_clock.advance(seconds=61)
    assert (await register(client, headers)).status_code == 201


async def test_list_paginates(
    client: httpx.AsyncClient, headers: dict[str, str], connect: ConnectHelper
) -> None:
    phones = [f"+2010011871{n:02d}" for n in range(10, 15)]
    for p in phones:
        await connect.account(p, verified=True)
        assert (await register(client, headers, phone=p)).status_code == 201
    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/api/v1/sender-numbers", params=params, headers=headers)).json()
        seen += [n["phone"] for n in page["data"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(phones))
    assert (
        await client.get("/api/v1/sender-numbers", params={"cursor": "garbage!"}, headers=headers)
    ).status_code == 422
