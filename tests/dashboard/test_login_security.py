"""Issue 12: logout and password change revoke sessions on the server; the login throttle is per user,
counts each attempt before verifying it, and a login's argon2 work does not depend on how many tenants
use an address. Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal, cast

import httpx
import pytest
import redis.asyncio as aioredis
from argon2 import PasswordHasher

from tests.conftest import MakeTenant
from tests.dashboard.conftest import DashboardUser, csrf_of, log_in
from tgo.app import create_app
from tgo.config import Settings
from tgo.dashboard.sessions import COOKIE_NAME
from tgo.runtime import Runtime
from tgo.users.service import LOGIN_CANDIDATES, create_user, find_user_by_email, set_password

REDIS_URL = "redis://127.0.0.1:6379/0"


def _copy_cookie(client: httpx.AsyncClient) -> str:
    value = client.cookies.get(COOKIE_NAME)
    assert value
    return value


async def _with_cookie(client: httpx.AsyncClient, cookie: str, path: str) -> httpx.Response:
    client.cookies.clear()
    client.cookies.set(COOKIE_NAME, cookie, path="/dashboard")
    return await client.get(path)


async def test_a_copied_cookie_is_refused_after_logout(signed_in: httpx.AsyncClient) -> None:
    copied = _copy_cookie(signed_in)
    page = await signed_in.get("/dashboard/api-keys")
    assert page.status_code == 200
    assert (await signed_in.post("/dashboard/logout", data={"_csrf": csrf_of(page.text)})).status_code == 303
    # The browser's own cookie is replaced; the copy taken before the logout must not work either.
    replayed = await _with_cookie(signed_in, copied, "/dashboard/api-keys")
    assert replayed.status_code == 303
    assert replayed.headers["location"].startswith("/dashboard/login")


async def test_logout_ends_the_users_other_sessions_but_a_new_login_works(
    client: httpx.AsyncClient, dashboard_user: DashboardUser
) -> None:
    assert (await log_in(client, dashboard_user.email, dashboard_user.password)).status_code == 303
    other_device = _copy_cookie(client)
    client.cookies.clear()
    assert (await log_in(client, dashboard_user.email, dashboard_user.password)).status_code == 303
    page = await client.get("/dashboard/api-keys")
    await client.post("/dashboard/logout", data={"_csrf": csrf_of(page.text)})
    assert (await _with_cookie(client, other_device, "/dashboard/api-keys")).status_code == 303
    client.cookies.clear()
    assert (await log_in(client, dashboard_user.email, dashboard_user.password)).status_code == 303
    assert (await client.get("/dashboard/api-keys")).status_code == 200


async def test_a_password_change_ends_the_session(
    signed_in: httpx.AsyncClient, runtime: Runtime, dashboard_user: DashboardUser
) -> None:
    copied = _copy_cookie(signed_in)
    async with runtime.db.session_scope() as session:
        user = await find_user_by_email(session, dashboard_user.email)
        assert user is not None
        before = user.session_version
        await set_password(session, user, "a brand new password")
        assert user.session_version == before + 1
    assert (await _with_cookie(signed_in, copied, "/dashboard/api-keys")).status_code == 303
    signed_in.cookies.clear()
    assert (await log_in(signed_in, dashboard_user.email, "a brand new password")).status_code == 303
    assert (await signed_in.get("/dashboard/api-keys")).status_code == 200


@dataclass
class Login:
    """An app whose login throttle keeps its counters in ``storage`` (Redis: under a prefix of its own)."""

    client: httpx.AsyncClient
    storage: str
    prefix: str

    async def csrf(self, host: str) -> str:
        return csrf_of((await self.client.get("/dashboard/login", headers={"Host": host})).text)

    async def post(self, host: str, email: str, password: str, csrf: str | None = None) -> int:
        response = await self.client.post(
            "/dashboard/login",
            headers={"Host": host},
            data={"email": email, "password": password, "_csrf": csrf or await self.csrf(host)},
        )
        if response.status_code == 429:
            assert int(response.headers["retry-after"]) > 0
            assert "Too many wrong passwords" in response.text
        return response.status_code

    async def redis_keys(self) -> list[bytes]:
        r = aioredis.Redis.from_url(REDIS_URL)
        try:
            return [k async for k in r.scan_iter(f"{self.prefix}:*")]
        finally:
            await r.aclose()

    async def check_storage(self) -> None:
        """The Redis variant really counted in Redis (not in the in-process fallback)."""
        if self.storage == "redis":
            assert await self.redis_keys(), "no login counters in Redis"


@pytest.fixture(params=["memory", "redis"])
async def login(request: pytest.FixtureRequest, settings: Settings, runtime: Runtime) -> AsyncIterator[Login]:
    prefix = f"tgo-login-test-{uuid.uuid4().hex[:12]}"
    update: dict[str, object] = {"queue_name": prefix}
    if request.param == "redis":
        update["redis_url"] = REDIS_URL
    app = create_app(settings.model_copy(update=update), runtime)
    transport = httpx.ASGITransport(app=cast(Any, app))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as client:
        helper = Login(client, str(request.param), prefix)
        try:
            yield helper
        finally:
            if request.param == "redis":
                r = aioredis.Redis.from_url(REDIS_URL)
                try:
                    for key in await helper.redis_keys():
                        await r.delete(key)
                finally:
                    await r.aclose()


VICTIM = "shared@example.com"
VICTIM_PASSWORD = "victim password 1"
OWN_PASSWORD = "attacker password 1"
GENERIC_HOST = "testserver.local"  # no tenant's domain


@pytest.fixture
async def two_tenants(runtime: Runtime, make_tenant: MakeTenant) -> None:
    """The victim on demo.localhost; the attacker's own user, same address, on evil.localhost."""
    demo, evil = await make_tenant("demo"), await make_tenant("evil")
    async with runtime.db.session_scope() as session:
        await create_user(session, demo.id, email=VICTIM, password=VICTIM_PASSWORD)
        await create_user(session, evil.id, email=VICTIM, password=OWN_PASSWORD)


@pytest.mark.parametrize(
    ("guess_host", "own_host"),
    [("demo.localhost", "evil.localhost"), (GENERIC_HOST, GENERIC_HOST)],
    ids=["tenant-domains", "generic-host"],
)
@pytest.mark.usefixtures("two_tenants")
async def test_a_good_login_as_ones_own_user_does_not_clear_the_victims_counter(
    login: Login, guess_host: str, own_host: str
) -> None:
    """Issue 12: 4 guesses against the victim, 1 good login as one's own user with that address, repeat."""
    codes, own = [], []
    for _ in range(3):
        for _ in range(4):
            codes.append(await login.post(guess_host, VICTIM, "a wrong guess"))
        own.append(await login.post(own_host, VICTIM, OWN_PASSWORD))
        login.client.cookies.clear()
    # Five wrong passwords, then the growing delay: the next guesses are refused, not checked.
    assert codes[:6] == [401] * 5 + [429], codes
    assert codes.count(401) <= 10, codes
    if guess_host != own_host:
        assert own == [303] * 3  # one's own user on one's own domain is never held up by the victim's
    else:
        # On a host that is no tenant's domain the address's counter is shared: once the guesses used it
        # up, one's own login there waits too (and no success ever cleared it).
        assert own[0] == 303 and own[1:] == [429, 429], own
    await login.check_storage()


@pytest.mark.parametrize("host", ["demo.localhost", GENERIC_HOST])
@pytest.mark.usefixtures("two_tenants")
async def test_parallel_wrong_passwords_are_counted_before_they_are_checked(login: Login, host: str) -> None:
    csrf = await login.csrf(host)
    codes = await asyncio.gather(*(login.post(host, VICTIM, f"guess {i}", csrf) for i in range(30)))
    # The account's first tier allows 5 attempts: at most 5 passwords were checked, the rest refused.
    assert sorted(codes) == [401] * 5 + [429] * 25, codes
    await login.check_storage()


@pytest.mark.usefixtures("two_tenants")
async def test_the_lockout_is_per_user_not_per_address(login: Login) -> None:
    for _ in range(5):
        assert await login.post("demo.localhost", VICTIM, "a wrong guess") == 401
    assert await login.post("demo.localhost", VICTIM, VICTIM_PASSWORD) == 429
    # Another tenant's user with the same address is not locked out, on its domain or elsewhere.
    assert await login.post("evil.localhost", VICTIM, OWN_PASSWORD) == 303
    login.client.cookies.clear()
    assert await login.post(GENERIC_HOST, VICTIM, OWN_PASSWORD) == 303
    login.client.cookies.clear()
    # ... and none of those successes lifted the victim's lock.
    assert await login.post("demo.localhost", VICTIM, VICTIM_PASSWORD) == 429
    await login.check_storage()


async def test_the_argon2_work_on_a_generic_host_does_not_depend_on_how_many_tenants_use_an_address(
    client: httpx.AsyncClient, runtime: Runtime, make_tenant: MakeTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenants = [await make_tenant(f"t{i}") for i in range(3)]
    async with runtime.db.session_scope() as session:
        for count in (1, 2, 3):
            for i, tenant in enumerate(tenants[:count]):
                email = f"used-by-{count}@example.com"
                await create_user(session, tenant.id, email=email, password=f"password of {i}")
    checks: list[str] = []
    real_verify = PasswordHasher.verify

    def counting_verify(self: PasswordHasher, hash: str | bytes, password: str | bytes) -> Literal[True]:
        checks.append("argon2")
        return real_verify(self, hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", counting_verify)
    helper = Login(client, "memory", "")

    async def argon2_checks(host: str, email: str, password: str, expected: int) -> int:
        csrf = await helper.csrf(host)
        checks.clear()
        assert await helper.post(host, email, password, csrf) == expected
        client.cookies.clear()
        return len(checks)

    generic = [
        await argon2_checks(GENERIC_HOST, "nobody@example.com", "wrong password", 401),
        await argon2_checks(GENERIC_HOST, "used-by-1@example.com", "wrong password", 401),
        await argon2_checks(GENERIC_HOST, "used-by-2@example.com", "wrong password", 401),
        await argon2_checks(GENERIC_HOST, "used-by-3@example.com", "wrong password", 401),
        # A match stops nothing: the oldest user's password costs what the newest one's does.
        await argon2_checks(GENERIC_HOST, "used-by-3@example.com", "password of 0", 303),
        await argon2_checks(GENERIC_HOST, "used-by-3@example.com", "password of 2", 303),
    ]
    assert generic == [LOGIN_CANDIDATES] * len(generic)
    # On a tenant's domain only that tenant's user can match: one check, user or not.
    on_domain = [
        await argon2_checks("t0.localhost", "nobody@example.com", "wrong password", 401),
        await argon2_checks("t0.localhost", "used-by-3@example.com", "wrong password", 401),
        await argon2_checks("t0.localhost", "used-by-3@example.com", "password of 0", 303),
    ]
    assert on_domain == [1, 1, 1]
