"""In a real browser against the real server: login, CSRF refusal, throttling, Arabic RTL, API keys."""

from __future__ import annotations

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.dashboard.browser import LiveServer, browser, context, live_server, log_in, page, screenshot

__all__ = ["browser", "context", "live_server", "page"]  # fixtures used by the tests below

pytestmark = pytest.mark.browser


async def test_log_in_and_out(page: Page, live_server: LiveServer) -> None:
    await page.goto("/dashboard/api-keys")
    await expect(page).to_have_url(f"{live_server.url}/dashboard/login?next=/dashboard/api-keys")
    await screenshot(page, "login")
    await log_in(page, live_server.email, live_server.password, goto=False)
    await expect(page).to_have_url(f"{live_server.url}/dashboard/api-keys")
    await expect(page.get_by_role("heading", name="API keys", exact=True)).to_be_visible()
    await page.get_by_role("button", name="Log out").click()
    await expect(page.get_by_text("You have been logged out.")).to_be_visible()
    await page.goto("/dashboard/api-keys")
    await expect(page).to_have_url(f"{live_server.url}/dashboard/login?next=/dashboard/api-keys")


async def test_a_form_posted_without_its_csrf_token_is_refused(page: Page, live_server: LiveServer) -> None:
    await log_in(page, live_server.email, live_server.password)
    await page.goto("/dashboard/api-keys")
    await page.get_by_label("Name", exact=True).fill("no token")
    await page.locator("#create-key ~ form input[name=scopes][value='messages.read']").check()
    # What a forged cross-site form looks like: everything but the token.
    await page.evaluate("document.querySelectorAll('input[name=_csrf]').forEach(e => e.remove())")
    await page.get_by_role("button", name="Create key").click()
    await expect(page.locator("#error-message")).to_contain_text("security token")
    await screenshot(page, "csrf-refused")
    await page.goto("/dashboard/api-keys")
    await expect(page.locator("#api-keys")).not_to_contain_text("no token")


async def test_five_wrong_passwords_are_throttled(page: Page, live_server: LiveServer) -> None:
    email = "throttled@demo.localhost"
    live_server.tgo("user", "create", "--tenant", "demo", "--email", email, "--password", "right-password-1")
    for _ in range(5):
        await log_in(page, email, "wrong-password")
        await expect(page.locator("#login-error")).to_have_text("The e-mail or password is not correct.")
    await log_in(page, email, "right-password-1")
    await expect(page.locator("#login-error")).to_contain_text("Too many wrong passwords")
    await expect(page).to_have_url(f"{live_server.url}/dashboard/login")
    await screenshot(page, "login-throttled")


async def test_arabic_is_right_to_left_translated_and_remembered(page: Page, live_server: LiveServer) -> None:
    email = "arabic@demo.localhost"
    live_server.tgo("user", "create", "--tenant", "demo", "--email", email, "--password", "arabic-password")
    await log_in(page, email, "arabic-password")
    await page.goto("/dashboard/api-keys")
    await page.get_by_role("button", name="Language: العربية").click()
    html = page.locator("html")
    await expect(html).to_have_attribute("dir", "rtl")
    await expect(html).to_have_attribute("lang", "ar")
    await expect(page.get_by_role("heading", name="مفاتيح API", exact=True)).to_be_visible()
    await expect(page.get_by_role("button", name="تسجيل الخروج")).to_be_visible()
    direction = await page.evaluate("getComputedStyle(document.body).direction")
    assert direction == "rtl"
    # Numbers and times stay left-to-right inside the Arabic page.
    times = page.locator("main time[dir=ltr]")
    if await times.count():
        assert await times.first.evaluate("e => getComputedStyle(e).direction") == "ltr"
    await screenshot(page, "api-keys-arabic")
    # Remembered for the user: a new browser session is Arabic straight after login.
    await page.context.clear_cookies()
    await page.goto("/dashboard/login")
    await page.locator("#email").fill(email)
    await page.locator("#password").fill("arabic-password")
    await page.locator("form[action='/dashboard/login'] button[type=submit]").click()
    await expect(page.locator("html")).to_have_attribute("dir", "rtl")
    await page.get_by_role("button", name="اللغة: English").click()
    await expect(page.locator("html")).to_have_attribute("dir", "ltr")


async def test_create_use_and_revoke_an_api_key(page: Page, live_server: LiveServer) -> None:
    await log_in(page, live_server.email, live_server.password)
    await page.goto("/dashboard/api-keys")
    await page.get_by_label("Name", exact=True).fill("browser key")
    await page.get_by_role("checkbox", name="messages.send").check()
    await page.get_by_role("checkbox", name="usage.read").check()
    await page.get_by_role("button", name="Create key").click()
    await expect(page.get_by_role("heading", name="Your new API key")).to_be_visible()
    key = await page.locator("#new-key").input_value()
    assert key.startswith("tgo_")
    await page.get_by_role("button", name="Copy").click()
    await expect(page.locator("#copy-key")).to_have_attribute("data-copied", "true")
    await screenshot(page, "api-key-created")

    async with httpx.AsyncClient(base_url=live_server.url) as api:
        me = await api.get("/api/v1/me", headers={"X-Api-Key": key})
        assert me.status_code == 200
        assert me.json()["scopes"] == ["messages.send", "usage.read"]

        await page.get_by_role("link", name="Back to API keys").click()
        row = page.locator("tr", has_text="browser key")
        await expect(row).to_contain_text("messages.send")
        await expect(row).to_contain_text("usage.read")
        await expect(page.locator("#api-keys")).not_to_contain_text(key)
        await row.get_by_role("button", name="Revoke").click()
        await expect(page.get_by_role("heading")).to_contain_text('Revoke the key "browser key"?')
        await screenshot(page, "api-key-revoke-confirm")
        await page.get_by_role("button", name="Yes, revoke this key").click()
        await expect(page.get_by_role("status")).to_contain_text('The key "browser key" has been revoked.')
        await expect(page.locator("tr", has_text="browser key")).to_contain_text("Revoked")
        await screenshot(page, "api-key-revoked")

        refused = await api.get("/api/v1/me", headers={"X-Api-Key": key})
        assert refused.status_code == 401
        assert refused.json() == {"message": "Unauthenticated."}
