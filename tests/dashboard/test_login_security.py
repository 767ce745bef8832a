"""Issue 12: logout and password change revoke sessions on the server; the login throttle is per user,
counts each attempt before verifying it, and a login's argon2 work does not depend on how many tenants
use an address. Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import httpx

from tests.dashboard.conftest import DashboardUser, csrf_of, log_in
from tgo.dashboard.sessions import COOKIE_NAME
from tgo.runtime import Runtime
from tgo.users.service import find_user_by_email, set_password


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
