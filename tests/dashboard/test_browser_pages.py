"""In a real browser: the usage chart and CSV export, the webhooks page, and the pages in Arabic (RTL,
translated, phone numbers and times still left-to-right)."""

from __future__ import annotations

import asyncio
import csv
import io

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

__all__ = ["browser", "context", "live_server", "page"]  # fixtures used by the tests below

pytestmark = pytest.mark.browser

SENDER, RECIPIENT = "+201001187211", "+201001187212"


@pytest.fixture(scope="module")
def traffic(live_server: LiveServer) -> dict[str, int]:
    """An active sender number with three messages sent through the API."""

    async def make() -> dict[str, int]:
        async with httpx.AsyncClient(
            base_url=live_server.url, headers={"X-Api-Key": live_server.demo["api_key"]}
        ) as api:
            await active_sender_via_api(api, live_server, SENDER)
            live_server.tgo(
                "connect", "account", "create", RECIPIENT, "--name", "Usage Recipient", "--verified"
            )
            ids = [await send_text(api, SENDER, RECIPIENT, f"usage {i}") for i in range(3)]
            for _ in range(100):
                statuses = [(await api.get(f"/api/v1/messages/{i}")).json()["status"] for i in ids]
                if all(s == "delivered" for s in statuses):
                    break
                await asyncio.sleep(0.2)
            return {"messages": len(ids)}

    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, make()).result()


async def test_usage_chart_table_and_csv(
    page: Page, live_server: LiveServer, traffic: dict[str, int]
) -> None:
    await log_in(page, live_server.email, live_server.password)
    await page.get_by_role("link", name="Usage").click()
    await expect(page.get_by_role("heading", name="Usage", exact=True)).to_be_visible()
    canvas = page.locator("#usage-chart")
    await expect(canvas).to_have_attribute("data-drawn", "true")
    box = await canvas.bounding_box()
    assert box and box["width"] > 200 and box["height"] > 100
    row = page.locator("#usage-senders tr", has_text=SENDER)
    await expect(row.locator("td").first).to_have_text(str(traffic["messages"]))
    await screenshot(page, "usage")
    async with page.expect_download() as info:
        await page.get_by_role("button", name="Export CSV").click()
    download = await info.value
    path = await download.path()
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    mine = [r for r in rows if r["sender_phone"] == SENDER]
    assert len(mine) == 1 and mine[0]["total"] == str(traffic["messages"])


async def open_inbox(page: Page, phone: str, key: str) -> None:
    """Open a phone's Connect inbox in this browser session (the key is posted, the session keeps the grant)."""
    await page.goto(f"/dashboard/connect?phone={phone.replace('+', '%2B')}")
    await page.locator("#inbox-key").fill(key)
    await page.locator("form[action='/dashboard/connect'] button[type=submit]").click()
    await expect(page.locator("#inbox-messages")).to_be_visible()
    assert key not in page.url


async def test_pages_in_arabic(page: Page, live_server: LiveServer, traffic: dict[str, int]) -> None:
    email = "arabic-pages@demo.localhost"
    live_server.tgo(
        "user", "create", "--tenant", "demo", "--email", email, "--password", "arabic-pages-1", "--lang", "ar"
    )
    await page.goto("/dashboard/login")
    await page.locator("#email").fill(email)
    await page.locator("#password").fill("arabic-pages-1")
    await page.locator("form[action='/dashboard/login'] button[type=submit]").click()
    await open_inbox(page, RECIPIENT, live_server.tgo("connect", "inbox", RECIPIENT)["inbox_key"])
    checks = [
        ("/dashboard/sender-numbers", "أرقام الإرسال", "senders-arabic"),
        ("/dashboard/messages", "الرسائل", "messages-arabic"),
        ("/dashboard/usage", "الاستخدام", "usage-arabic"),
        ("/dashboard/sms-senders", "مُرسِلو الرسائل القصيرة", "sms-senders-arabic"),
        ("/dashboard/webhooks", "Webhooks", "webhooks-arabic"),
        ("/dashboard/api-keys", "مفاتيح API", "api-keys-arabic-pages"),
        (
            "/dashboard/connect?phone=%2B201001187212",
            "صندوق وارد TGO Connect",
            "connect-arabic",
        ),
    ]
    for path, heading, shot in checks:
        await page.goto(path)
        await expect(page.locator("html")).to_have_attribute("dir", "rtl")
        await expect(page.locator("html")).to_have_attribute("lang", "ar")
        await expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        assert await page.evaluate("getComputedStyle(document.body).direction") == "rtl"
        phones = page.locator("main bdi.phone")
        if await phones.count():
            assert await phones.first.evaluate("e => getComputedStyle(e).direction") == "ltr"
        await screenshot(page, shot)
    # A message row: the sender's phone reads left-to-right even inside the right-to-left table.
    await page.goto("/dashboard/messages")
    phone = page.locator("#messages bdi.phone", has_text=SENDER).first
    await expect(phone).to_have_text(SENDER)
    assert await phone.evaluate("e => getComputedStyle(e).direction") == "ltr"
    await expect(page.locator("#messages .message-status").first).to_have_text("سُلّمت")


async def test_add_a_webhook_in_the_browser(page: Page, live_server: LiveServer) -> None:
    await log_in(page, live_server.email, live_server.password)
    await page.goto("/dashboard/webhooks")
    await page.get_by_label("Endpoint URL").fill("https://hooks.example.com/tgo")
    await page.get_by_label("Description").fill("orders")
    await page.get_by_role("checkbox", name="sms_sender.status_changed").check()
    await page.get_by_role("button", name="Add endpoint").click()
    secret = await page.locator("#new-secret").input_value()
    assert secret
    await screenshot(page, "webhook-secret")
    await page.get_by_role("link", name="Back to the endpoint").click()
    await expect(page.locator("#webhook-state")).to_contain_text("Active")
    await page.get_by_role("button", name="Pause").click()
    await expect(page.locator("#webhook-state")).to_contain_text("Paused")
    await screenshot(page, "webhook-endpoint")


async def test_sms_sender_add_verify_and_rejection(page: Page, live_server: LiveServer) -> None:
    await log_in(page, live_server.email, live_server.password)
    await page.get_by_role("link", name="SMS senders").click()
    await page.get_by_label("Name", exact=True).fill("Acme Germany")
    await page.get_by_label("Type", exact=True).select_option("alphanumeric_id")
    await page.get_by_label("Sender ID").fill("ACMESHOP")
    await page.get_by_label("Country").select_option("DE")
    await page.get_by_role("button", name="Add sender").click()
    badge = page.locator("#sms-status-badge")
    await expect(badge).to_have_text("Not verified yet")
    await page.get_by_role("button", name="Start verification").click()
    # The sandbox carrier decides after TGO_SMS_VERIFICATION_DELAY_SECONDS; the page follows by itself.
    await expect(badge).to_have_text("Active", timeout=30_000)
    await screenshot(page, "sms-sender-active")

    await page.goto("/dashboard/sms-senders")
    await page.get_by_label("Name", exact=True).fill("Acme US")
    await page.get_by_label("Sender ID").fill("ACMESHOP")
    await page.get_by_label("Country").select_option("US")
    await page.get_by_role("button", name="Add sender").click()
    await page.get_by_role("button", name="Start verification").click()
    await expect(page.locator("#sms-status-badge")).to_have_text("Rejected", timeout=30_000)
    await expect(page.locator("#rejection-reason")).not_to_be_empty()
    await expect(page.get_by_role("button", name="Verify again")).to_be_visible()
    await screenshot(page, "sms-sender-rejected")


UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea, button')]
  .filter(e => e.type !== 'hidden' && e.offsetParent !== null)
  .filter(e => {
    if (e.tagName === 'BUTTON') return !(e.innerText.trim() || e.getAttribute('aria-label'));
    return !(e.labels && e.labels.length) && !e.getAttribute('aria-label');
  })
  .map(e => e.outerHTML.slice(0, 120))"""


async def test_every_control_is_labelled_and_the_skip_link_comes_first(
    page: Page, live_server: LiveServer, traffic: dict[str, int]
) -> None:
    await page.goto("/dashboard/login")
    assert await page.evaluate(UNLABELLED) == []
    await log_in(page, live_server.email, live_server.password)
    await open_inbox(page, SENDER, live_server.tgo("connect", "inbox", SENDER)["inbox_key"])
    for path in (
        "/dashboard/sender-numbers",
        "/dashboard/messages",
        "/dashboard/usage",
        "/dashboard/sms-senders",
        "/dashboard/webhooks",
        "/dashboard/api-keys",
        f"/dashboard/connect?phone={SENDER.replace('+', '%2B')}",
    ):
        await page.goto(path)
        assert await page.evaluate(UNLABELLED) == [], path
        await page.keyboard.press("Tab")
        focused = await page.evaluate("document.activeElement.className")
        assert focused == "skip-link", path
