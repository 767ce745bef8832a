"""In a real browser against the real server: a message's page follows its status by itself. The reference
network refuses deliveries (scripted 503s) so the message waits, queued, with its page open; then it lets
them through and the page shows Delivered, and the new history line, without a reload."""

from __future__ import annotations

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.dashboard.browser import (
    LiveServer,
    active_sender_via_api,
    browser,
    context,
    live_server,
    log_in,
    page,
    screenshot,
    send_text,
)
from tgo.channels.connect_protocol import API_PATH, api_token

__all__ = ["browser", "context", "live_server", "page"]  # fixtures used by the tests below

pytestmark = pytest.mark.browser

SENDER, RECIPIENT = "+201001187231", "+201001187232"


async def set_faults(live_server: LiveServer, fail_next_messages: int) -> None:
    """Script the reference network's message endpoint (as Business, with its bearer token)."""
    secret = (live_server.data_dir / "secret_key").read_text().strip().encode()
    async with httpx.AsyncClient(base_url=live_server.url) as connect:
        done = await connect.post(
            f"{API_PATH}/faults",
            json={"fail_next_messages": fail_next_messages, "status": 503},
            headers={"Authorization": f"Bearer {api_token(secret)}"},
        )
        assert done.status_code == 200, done.text


async def test_the_message_page_shows_delivered_without_a_reload(page: Page, live_server: LiveServer) -> None:
    async with httpx.AsyncClient(
        base_url=live_server.url, headers={"X-Api-Key": live_server.demo["api_key"]}
    ) as api:
        await active_sender_via_api(api, live_server, SENDER)
        live_server.tgo("connect", "account", "create", RECIPIENT, "--name", "Live Recipient", "--verified")
        await set_faults(live_server, 1000)
        try:
            message_id = await send_text(api, SENDER, RECIPIENT, "follow me")
            await log_in(page, live_server.email, live_server.password)
            await page.goto(f"/dashboard/messages/{message_id}")
            status = page.locator("#message-status")
            await expect(status).to_have_attribute("data-status", "queued")
            await expect(page.locator("#message-status-block")).to_have_attribute("hx-trigger", "every 2s")
            history = page.locator("#status-history li")
            before = await history.count()
            await page.evaluate("window.__samePage = true")  # gone if the page were reloaded
            await page.wait_for_timeout(2500)  # a poll or two while nothing changes: nothing is swapped
            await expect(status).to_have_attribute("data-status", "queued")
        finally:
            await set_faults(live_server, 0)
        # The worker's next retry (1-2-4-8 s backoff) delivers it; the page follows by itself.
        await expect(status).to_have_text("Delivered", timeout=45_000)
        assert await page.evaluate("window.__samePage === true")
        assert await history.count() > before
        assert await page.locator("#message-status-block").get_attribute("hx-get") is None  # stopped asking
        await screenshot(page, "message-live-delivered")
