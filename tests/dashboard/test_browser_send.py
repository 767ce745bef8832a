"""In a real browser against the real server, in English and Arabic: send a message from the dashboard and
follow it to delivered; send an SMS with its encoding and segments previewed and watch its receipt arrive;
the new pages at 1366x900 and 390x844 (no sideways overflow, phone numbers isolated left-to-right,
axe-core without violations), with screenshots in test-artifacts/dashboard/."""

from __future__ import annotations

import asyncio
import concurrent.futures
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, ViewportSize, expect

from tests.dashboard.axe import axe_script, axe_violations
from tests.dashboard.browser import (
    LiveServer,
    active_sender_via_api,
    browser,
    live_server,
    log_in,
    screenshot,
)
from tests.sms.helpers import SEED_REQUEST
from tgo.i18n import translate

__all__ = ["axe_script", "browser", "live_server"]  # fixtures used by the tests below

pytestmark = pytest.mark.browser

SENDER, RECIPIENT = "+201001187221", "+201001187222"
SMS_TO = "+61412345678"
VIEWPORTS: dict[str, ViewportSize] = {
    "desktop": {"width": 1366, "height": 900},
    "mobile": {"width": 390, "height": 844},
}
TEXT = {"en": "Your order 1187 has shipped.", "ar": "تم شحن طلبك رقم 1187 من Demo Organization."}
SMS_TEXT = {"en": "Your code is 4821. It expires in 10 minutes.", "ar": "رمز التحقق 4821، صالح لعشر دقائق."}
SMS_ENCODING = {"en": "GSM-7", "ar": "UCS-2"}

# Every text node that looks like a phone number must sit in an element that isolates it left-to-right.
_PHONES_NOT_ISOLATED = """() => {
  const bad = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    if (!/\\+\\d{7,15}/.test(node.textContent)) continue;
    let el = node.parentElement, ok = false;
    while (el && el !== document.body) {
      if (el.getAttribute('dir') === 'ltr') { ok = true; break; }
      el = el.parentElement;
    }
    if (!ok) bad.push(node.textContent.trim().slice(0, 80));
  }
  return bad;
}"""


@pytest.fixture(scope="module")
def senders(live_server: LiveServer) -> dict[str, Any]:
    """An active sender number, a reachable recipient and an active SMS sender (the sandbox carrier)."""

    async def make() -> dict[str, Any]:
        async with httpx.AsyncClient(
            base_url=live_server.url, headers={"X-Api-Key": live_server.demo["api_key"]}
        ) as api:
            await active_sender_via_api(api, live_server, SENDER)
            live_server.tgo(
                "connect", "account", "create", RECIPIENT, "--name", "Send Recipient", "--verified"
            )
            numbers = (await api.get("/api/v1/sender-numbers")).json()["data"]
            number_id = next(n["id"] for n in numbers if n["phone"] == SENDER)
            created = await api.post("/v1/sms/senders", json=SEED_REQUEST)
            assert created.status_code == 201, created.text
            sms_id = created.json()["id"]
            assert (await api.post(f"/v1/sms/senders/{sms_id}/verify")).status_code == 200
            for _ in range(100):
                if (await api.get(f"/v1/sms/senders/{sms_id}")).json()["status"] == "active":
                    break
                await asyncio.sleep(0.2)
            else:
                raise AssertionError("the SMS sender never became active")
            hook = await api.post(
                "/api/v1/webhooks",
                json={"url": "https://hooks.example.invalid/tgo/events", "events": ["message.delivered"]},
            )
            assert hook.status_code == 201, hook.text
            return {"number_id": number_id, "sms_sender_id": sms_id, "webhook_id": hook.json()["id"]}

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, make()).result()


@pytest.fixture
async def desktop(browser: Browser, live_server: LiveServer) -> AsyncIterator[BrowserContext]:
    # bypass_csp: axe-core is injected as a script of the test's (the pages allow only their own scripts).
    ctx = await browser.new_context(
        base_url=live_server.url, locale="en-US", viewport=VIEWPORTS["desktop"], bypass_csp=True
    )
    ctx.set_default_timeout(15_000)
    try:
        yield ctx
    finally:
        await ctx.close()


async def use_language(page: Page, lang: str) -> None:
    if not page.url.endswith("/dashboard/"):
        await page.goto("/dashboard/")
    if await page.locator("html").get_attribute("lang") != lang:
        if await page.locator("#menu-toggle").is_visible():  # on a phone the header folds into a menu
            await page.locator("#menu-toggle").click()
        await page.locator("#language-switch").click()
        await expect(page.locator("html")).to_have_attribute("lang", lang)


async def check_quality(page: Page, axe: Path, name: str) -> None:
    """No sideways overflow, every phone number isolated left-to-right, no axe-core violation; a screenshot."""
    await screenshot(page, name)
    widths = await page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"{name}: {widths[0]} px wide in a {widths[1]} px window"
    assert await page.evaluate(_PHONES_NOT_ISOLATED) == [], name
    assert await axe_violations(page, axe) == [], name


@pytest.mark.parametrize("lang", ["en", "ar"])
async def test_send_a_message_and_an_sms_end_to_end(
    desktop: BrowserContext, live_server: LiveServer, senders: dict[str, Any], axe_script: Path, lang: str
) -> None:
    page = await desktop.new_page()
    await log_in(page, live_server.email, live_server.password)
    await use_language(page, lang)
    try:
        # From the sender number's page to the send page, the number chosen.
        await page.goto(f"/dashboard/sender-numbers/{senders['number_id']}")
        await page.locator("#send-from-number").click()
        await expect(page).to_have_url(re.compile(r"/dashboard/messages/new\?sender=\d+$"))
        await expect(page.locator("#send-sender")).to_have_value(str(senders["number_id"]))
        await page.locator("#send-to").press_sequentially("+201001187777", delay=20)
        await expect(page.locator("#recipient-check")).to_have_attribute("data-state", "bad")
        await expect(page.locator("#recipient-check")).to_contain_text(
            translate("dash.send.check.not_found", lang)
        )
        await page.locator("#send-to").fill("")
        await page.locator("#send-to").press_sequentially(RECIPIENT, delay=20)
        await expect(page.locator("#recipient-check")).to_have_attribute("data-state", "good")
        await expect(page.locator("#recipient-check")).to_contain_text(translate("dash.send.check.ok", lang))
        await page.locator("#send-content").fill(TEXT[lang])
        await check_quality(page, axe_script, f"send-typed-{lang}-desktop")
        await page.locator("#send-submit").click()
        await expect(page).to_have_url(re.compile(r"/dashboard/messages/\d+$"))
        await expect(page.locator(".message-content")).to_have_text(TEXT[lang])
        delivered = translate("dash.messages.status.delivered", lang)
        for _ in range(60):
            if (await page.locator("#message-status").inner_text()).strip() == delivered:
                break
            await asyncio.sleep(0.5)
            await page.reload()
        await expect(page.locator("#message-status")).to_have_text(delivered)
        await screenshot(page, f"send-delivered-{lang}-desktop")

        # An SMS: the preview follows the typing, the detail page follows the carrier's receipt.
        await page.goto("/dashboard/sms-messages")
        await page.locator("#sms-send-new").click()
        await expect(page).to_have_url(re.compile(r"/dashboard/sms-messages/new$"))
        await page.locator("#sms-send-to").fill(SMS_TO)
        await page.locator("#sms-send-body").press_sequentially(SMS_TEXT[lang], delay=5)
        await expect(page.locator("#sms-preview-encoding")).to_contain_text(SMS_ENCODING[lang])
        await expect(page.locator("#sms-preview-text")).to_contain_text(str(len(SMS_TEXT[lang])))
        await check_quality(page, axe_script, f"sms-typed-{lang}-desktop")
        await page.locator("#sms-send-submit").click()
        await expect(page).to_have_url(re.compile(r"/dashboard/sms-messages/[0-9a-f-]{36}$"))
        detail_url = page.url
        await expect(page.locator("#sms-body")).to_have_text(SMS_TEXT[lang])
        await expect(page.locator("#sms-message-badge")).to_have_attribute(
            "data-status", "delivered", timeout=30_000
        )
        await expect(page.locator("#sms-encoding")).to_contain_text(SMS_ENCODING[lang])
        await check_quality(page, axe_script, f"sms-delivered-{lang}-desktop")
        await page.goto("/dashboard/sms-messages")
        await expect(
            page.locator(f'tr[data-sms-id="{detail_url.rsplit("/", 1)[1]}"] .sms-status')
        ).to_have_text(translate("dash.smslog.status.delivered", lang))
        await check_quality(page, axe_script, f"sms-log-{lang}-desktop")
        await page.goto("/dashboard/usage")
        await expect(
            page.locator(f'#usage-sms tr[data-sms-sender-id="{senders["sms_sender_id"]}"]')
        ).to_be_visible()
    finally:
        await use_language(page, "en")


@pytest.mark.parametrize("lang", ["en", "ar"])
@pytest.mark.parametrize("viewport", ["desktop", "mobile"])
async def test_new_pages_meet_the_quality_bar(
    browser: Browser,
    live_server: LiveServer,
    senders: dict[str, Any],
    axe_script: Path,
    lang: str,
    viewport: str,
) -> None:
    ctx = await browser.new_context(
        base_url=live_server.url, locale="en-US", viewport=VIEWPORTS[viewport], bypass_csp=True
    )
    ctx.set_default_timeout(15_000)
    page = await ctx.new_page()
    try:
        await log_in(page, live_server.email, live_server.password)
        await use_language(page, lang)
        await page.goto("/dashboard/sms-messages")
        first_sms = page.locator("#sms-messages tbody a").first
        sms_url = await first_sms.get_attribute("href") if await first_sms.count() else None
        pages = {
            "send-new": "/dashboard/messages/new",
            "sms-messages": "/dashboard/sms-messages",
            "sms-messages-none": "/dashboard/sms-messages?status=failed",
            "sms-new": "/dashboard/sms-messages/new",
            "sender-delete": f"/dashboard/sender-numbers/{senders['number_id']}/delete",
        }
        if sms_url:
            pages["sms-message"] = sms_url
        for name, path in pages.items():
            await page.goto(path)
            await check_quality(page, axe_script, f"{name}-{lang}-{viewport}")
        await page.goto(f"/dashboard/webhooks/{senders['webhook_id']}")
        await page.locator("#send-test-event").click()
        await expect(page.locator("#test-payload")).to_contain_text('"type": "webhook.test"')
        await check_quality(page, axe_script, f"webhook-test-{lang}-{viewport}")
    finally:
        await use_language(page, "en")
        await ctx.close()
