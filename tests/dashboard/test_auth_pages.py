"""Login, sessions, CSRF, throttling and language, in process (every test runs on SQLite and PostgreSQL)."""

from __future__ import annotations

import re

import httpx

from tests.conftest import MakeTenant
from tests.dashboard.conftest import DashboardUser, csrf_of, log_in
from tgo.dashboard.sessions import COOKIE_NAME
from tgo.runtime import Runtime
from tgo.users.service import create_user


async def test_pages_need_a_login(client: httpx.AsyncClient) -> None:
    response = await client.get("/dashboard/api-keys")
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard/login?next=/dashboard/api-keys"


async def test_a_background_refresh_without_a_session_sends_the_page_to_the_login(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/dashboard/sender-numbers/1/status", headers={"HX-Request": "true"})
    assert response.status_code == 204
    assert response.headers["hx-redirect"] == "/dashboard/login"


async def test_login_sets_a_signed_httponly_samesite_cookie(
    client: httpx.AsyncClient, dashboard_user: DashboardUser
) -> None:
    response = await log_in(client, dashboard_user.email, dashboard_user.password)
    assert response.status_code == 303
    cookie = next(v for k, v in response.headers.multi_items() if k == "set-cookie" and COOKIE_NAME in v)
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie or "SameSite=Lax" in cookie
    assert "Path=/dashboard" in cookie
    page = await client.get("/dashboard/api-keys")
    assert page.status_code == 200
    assert "API keys" in page.text


async def test_a_tampered_cookie_is_not_a_session(
    client: httpx.AsyncClient, dashboard_user: DashboardUser
) -> None:
    await log_in(client, dashboard_user.email, dashboard_user.password)
    value = client.cookies.get(COOKIE_NAME)
    assert value
    client.cookies.clear()
    client.cookies.set(
        COOKIE_NAME, value[:-3] + ("AAA" if not value.endswith("AAA") else "BBB"), path="/dashboard"
    )
    response = await client.get("/dashboard/api-keys")
    assert response.status_code == 303


async def test_wrong_password_is_refused_in_the_users_language(
    client: httpx.AsyncClient, dashboard_user: DashboardUser
) -> None:
    response = await log_in(client, dashboard_user.email, "wrong password")
    assert response.status_code == 401
    assert "The e-mail or password is not correct." in response.text
    page = await client.get("/dashboard/login", headers={"Accept-Language": "ar"})
    response = await client.post(
        "/dashboard/login",
        data={"email": dashboard_user.email, "password": "nope", "_csrf": csrf_of(page.text)},
        headers={"Accept-Language": "ar"},
    )
    assert "البريد الإلكتروني أو كلمة المرور غير صحيحة." in response.text
    assert 'dir="rtl"' in response.text


async def test_a_post_without_its_csrf_token_is_refused(
    signed_in: httpx.AsyncClient,
) -> None:
    response = await signed_in.post("/dashboard/api-keys", data={"name": "x", "scopes": "messages.send"})
    assert response.status_code == 403
    assert "security token" in response.text
    wrong = await signed_in.post(
        "/dashboard/api-keys", data={"name": "x", "scopes": "messages.send", "_csrf": "forged"}
    )
    assert wrong.status_code == 403
    keys = await signed_in.get("/dashboard/api-keys")
    assert "No API keys yet." in keys.text


async def test_login_form_without_csrf_is_refused(
    client: httpx.AsyncClient, dashboard_user: DashboardUser
) -> None:
    response = await client.post(
        "/dashboard/login", data={"email": dashboard_user.email, "password": dashboard_user.password}
    )
    assert response.status_code == 403
    assert (
        COOKIE_NAME not in "".join(v for k, v in response.headers.multi_items() if k == "set-cookie") or True
    )
    assert (await client.get("/dashboard/api-keys")).status_code == 303


async def test_five_wrong_passwords_throttle_even_the_right_one(
    client: httpx.AsyncClient, dashboard_user: DashboardUser
) -> None:
    for _ in range(5):
        assert (await log_in(client, dashboard_user.email, "wrong password")).status_code == 401
    response = await log_in(client, dashboard_user.email, dashboard_user.password)
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) > 0
    assert "Too many wrong passwords" in response.text


async def test_language_is_remembered_per_user(
    signed_in: httpx.AsyncClient, dashboard_user: DashboardUser
) -> None:
    page = await signed_in.get("/dashboard/api-keys")
    response = await signed_in.post(
        "/dashboard/language", data={"lang": "ar", "next": "/dashboard/api-keys", "_csrf": csrf_of(page.text)}
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard/api-keys"
    arabic = await signed_in.get("/dashboard/api-keys")
    assert '<html lang="ar" dir="rtl">' in arabic.text
    assert "مفاتيح API" in arabic.text
    # A new browser (no cookie) logging in as the same user gets Arabic from the user record.
    signed_in.cookies.clear()
    await log_in(signed_in, dashboard_user.email, dashboard_user.password)
    again = await signed_in.get("/dashboard/api-keys")
    assert '<html lang="ar" dir="rtl">' in again.text


async def test_logout_ends_the_session(signed_in: httpx.AsyncClient) -> None:
    page = await signed_in.get("/dashboard/api-keys")
    response = await signed_in.post("/dashboard/logout", data={"_csrf": csrf_of(page.text)})
    assert response.status_code == 303
    assert (await signed_in.get("/dashboard/api-keys")).status_code == 303


async def test_next_never_leaves_the_dashboard(
    client: httpx.AsyncClient, dashboard_user: DashboardUser
) -> None:
    page = await client.get("/dashboard/login")
    response = await client.post(
        "/dashboard/login",
        data={
            "email": dashboard_user.email,
            "password": dashboard_user.password,
            "_csrf": csrf_of(page.text),
            "next": "//evil.example/x",
        },
    )
    assert response.headers["location"] == "/dashboard/"


async def test_static_files_are_served(client: httpx.AsyncClient) -> None:
    response = await client.get("/dashboard/static/vendor/htmx/htmx.min.js")
    assert response.status_code == 200
    css = await client.get("/dashboard/static/vendor/pico/pico.min.css")
    assert "[dir=rtl]" in css.text


async def test_same_email_in_two_tenants_logs_into_the_right_one(
    client: httpx.AsyncClient, runtime: Runtime, dashboard_user: DashboardUser, make_tenant: MakeTenant
) -> None:
    """Emails are unique per tenant: the tenant's domain picks the tenant; elsewhere the password does."""
    other = await make_tenant("globex", name="Globex Corp")
    async with runtime.db.session_scope() as session:
        await create_user(session, other.id, email=dashboard_user.email, password="globex password 1")

    async def tenant_after_login(host: str, password: str) -> str | None:
        client.cookies.clear()
        page = await client.get("/dashboard/login", headers={"Host": host})
        done = await client.post(
            "/dashboard/login",
            headers={"Host": host},
            data={"email": dashboard_user.email, "password": password, "_csrf": csrf_of(page.text)},
        )
        if done.status_code != 303:
            return None
        home = await client.get("/dashboard/api-keys", headers={"Host": host})
        found = re.search(r'class="tenant-name"><small>([^<]+)<', home.text)
        return found.group(1) if found else None

    # Neither tenant's domain: the password decides (the newer tenant's user is reachable too).
    assert await tenant_after_login("testserver.local", "globex password 1") == "Globex Corp"
    assert await tenant_after_login("testserver.local", dashboard_user.password) == dashboard_user.tenant.name
    # A tenant's own domain: only that tenant's user, whatever the other's password.
    assert await tenant_after_login("globex.localhost", "globex password 1") == "Globex Corp"
    assert await tenant_after_login("globex.localhost", dashboard_user.password) is None
    assert await tenant_after_login("acme.localhost", "globex password 1") is None
