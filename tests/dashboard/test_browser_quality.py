"""The quality bar, in a real browser, over every dashboard page in English and Arabic at desktop
(1366x900) and mobile (390x844) size: no sideways overflow on a phone, the header collapsed, every phone
number an isolated left-to-right run, axe-core's 0 violations, a keyboard walk with a visible focus ring,
and a screenshot of each (test-artifacts/dashboard/walk-*.png; the widths go to walk-widths.json)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, ViewportSize, expect

from tests.dashboard.browser import (
    ARTIFACTS,
    LiveServer,
    active_sender_via_api,
    axe_source,
    browser,
    live_server,
    screenshot,
    send_text,
)
from tests.sms.helpers import SEED_REQUEST

__all__ = ["browser", "live_server"]  # fixtures used by the tests below

pytestmark = pytest.mark.browser

SENDER, RECIPIENT, PENDING = "+201001187311", "+201001187312", "+201001187313"
SIZES: dict[str, ViewportSize] = {
    "desktop": {"width": 1366, "height": 900},
    "mobile": {"width": 390, "height": 844},
}
ARABIC_OTP = "رمز التحقق الخاص بك لدى Demo Organization هو 123456. لا تشاركه مع أحد."
SMS_TO = "+61412345678"
LONG_URL = "https://hooks.example-long-customer-domain.com/integrations/tgo/business/events/receiver"


def _run(coro: Any) -> Any:
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


@pytest.fixture(scope="module")
def world(live_server: LiveServer) -> dict[str, Any]:
    """Something on every page: an active and a pending sender number, messages (one in Arabic), an SMS
    sender, a webhook with a long URL and a delivery, and the recipient's Connect inbox key."""

    async def make() -> dict[str, Any]:
        async with httpx.AsyncClient(
            base_url=live_server.url, headers={"X-Api-Key": live_server.demo["api_key"]}
        ) as api:
            await active_sender_via_api(api, live_server, SENDER)
            live_server.tgo(
                "connect", "account", "create", RECIPIENT, "--name", "Walk Recipient", "--verified"
            )
            live_server.tgo("connect", "account", "create", PENDING, "--name", "Pending Owner", "--verified")
            pending = await api.post(
                "/api/v1/sender-numbers",
                json={"phone": PENDING, "display_name": "Support line with a rather long display name"},
            )
            assert pending.status_code == 201, pending.text
            hook = await api.post(
                "/api/v1/webhooks",
                json={
                    "url": LONG_URL,
                    "events": ["message.delivered", "message.sent"],
                    "description": "orders",
                },
            )
            assert hook.status_code == 201, hook.text
            sms = await api.post(
                "/v1/sms/senders",
                json={
                    "name": "Acme Egypt",
                    "senderType": "alphanumeric_id",
                    "senderId": "ACMESHOP",
                    "country": "EG",
                },
            )
            assert sms.status_code == 201, sms.text
            sms_sender = await api.post("/v1/sms/senders", json=SEED_REQUEST)  # the sandbox approves it
            assert sms_sender.status_code == 201, sms_sender.text
            sms_sender_id = sms_sender.json()["id"]
            assert (await api.post(f"/v1/sms/senders/{sms_sender_id}/verify")).status_code == 200
            for _ in range(150):
                if (await api.get(f"/v1/sms/senders/{sms_sender_id}")).json()["status"] == "active":
                    break
                await asyncio.sleep(0.2)
            sms_message = await api.post(
                "/v1/sms/messages",
                json={
                    "senderId": sms_sender_id,
                    "to": SMS_TO,
                    "body": "Your code is 4821 for Demo Organization.",
                },
            )
            assert sms_message.status_code == 201, sms_message.text
            numbers = (await api.get("/api/v1/sender-numbers")).json()["data"]
            ids = [await send_text(api, SENDER, RECIPIENT, ARABIC_OTP)]
            ids += [await send_text(api, SENDER, RECIPIENT, f"walk {i}") for i in range(2)]
            for _ in range(100):
                statuses = [(await api.get(f"/api/v1/messages/{i}")).json()["status"] for i in ids]
                if all(s == "delivered" for s in statuses):
                    break
                await asyncio.sleep(0.2)
            # Two-way messaging (issue 18): the recipient writes back (in Arabic), so the Inbox, a thread
            # and the opt-out list have something on them.
            live_server.tgo("connect", "send", RECIPIENT, SENDER, "مرحبا، هل طلبي رقم 1234 جاهز؟")
            conversation = None
            for _ in range(100):
                found = (await api.get("/api/v1/conversations")).json()["data"]
                if found:
                    conversation = found[0]["id"]
                    break
                await asyncio.sleep(0.2)
            assert conversation is not None, "the reply never reached the Business side"
            opt_out = await api.post("/api/v1/opt-outs", json={"phone": "+201010000066", "source": "walk"})
            assert opt_out.status_code == 201, opt_out.text
            return {
                "conversation": conversation,
                "message": ids[0],
                "pending": pending.json()["id"],
                "webhook": hook.json()["id"],
                "sms": sms.json()["id"],
                "sms_message": sms_message.json()["id"],
                "active": next(n["id"] for n in numbers if n["phone"] == SENDER),
                "key": live_server.demo["api_key_id"],
                "inbox_key": live_server.tgo("connect", "inbox", RECIPIENT)["inbox_key"],
            }

    return dict(_run(make()))


def pages(world: dict[str, Any]) -> list[tuple[str, str]]:
    """(name, path) of every dashboard page."""
    return [
        ("senders", "/dashboard/sender-numbers"),
        ("sender-pending", f"/dashboard/sender-numbers/{world['pending']}"),
        ("sender-active", f"/dashboard/sender-numbers/{world['active']}"),
        ("messages", "/dashboard/messages"),
        ("message", f"/dashboard/messages/{world['message']}"),
        ("send-new", "/dashboard/messages/new"),
        ("sms-messages", "/dashboard/sms-messages"),
        ("sms-message", f"/dashboard/sms-messages/{world['sms_message']}"),
        ("sms-new", "/dashboard/sms-messages/new"),
        ("usage", "/dashboard/usage"),
        ("sms-senders", "/dashboard/sms-senders"),
        ("sms-sender", f"/dashboard/sms-senders/{world['sms']}"),
        ("sms-sender-delete", f"/dashboard/sms-senders/{world['sms']}/delete"),
        ("webhooks", "/dashboard/webhooks"),
        ("webhook", f"/dashboard/webhooks/{world['webhook']}"),
        ("webhook-delete", f"/dashboard/webhooks/{world['webhook']}/delete"),
        ("api-keys", "/dashboard/api-keys"),
        ("api-key-revoke", f"/dashboard/api-keys/{world['key']}/revoke"),
        ("connect", f"/dashboard/connect?phone={RECIPIENT.replace('+', '%2B')}"),
        ("inbox", "/dashboard/inbox"),
        ("conversation", f"/dashboard/inbox/{world['conversation']}"),
        ("opt-outs", "/dashboard/opt-outs"),
        ("profile", "/dashboard/profile"),
        ("not-found", "/dashboard/no-such-page"),
    ]


@pytest.fixture
async def signed_in(
    browser: Browser, live_server: LiveServer, world: dict[str, Any]
) -> AsyncIterator[BrowserContext]:
    """A signed-in context (bypassing the CSP only so axe-core can be injected)."""
    ctx = await browser.new_context(base_url=live_server.url, locale="en-US", bypass_csp=True)
    ctx.set_default_timeout(15_000)
    page = await ctx.new_page()
    await page.goto("/dashboard/login")
    await page.locator("#email").fill(live_server.email)
    await page.locator("#password").fill(live_server.password)
    await page.locator("form[action='/dashboard/login'] button[type=submit]").click()
    await page.wait_for_load_state()
    await page.goto(f"/dashboard/connect?phone={RECIPIENT.replace('+', '%2B')}")
    await page.locator("#inbox-key").fill(world["inbox_key"])
    await page.locator("form[action='/dashboard/connect'] button[type=submit]").click()
    await page.locator("#inbox-messages").wait_for()
    await page.close()
    try:
        yield ctx
    finally:
        await ctx.close()


async def set_language(page: Page, lang: str) -> None:
    await page.goto("/dashboard/api-keys")
    if await page.locator("html").get_attribute("lang") != lang:
        await page.locator("#language-switch").click()
        await page.wait_for_load_state()
    assert await page.locator("html").get_attribute("lang") == lang


WIDE = """() => [...document.querySelectorAll('body *')]
  .filter(e => { const r = e.getBoundingClientRect(); return r.right > innerWidth + 1 || r.left < -1; })
  .filter(e => !e.closest('.table-wrap') && !e.closest('.visually-hidden'))
  .slice(-3).map(e => e.tagName + '.' + e.className + '#' + e.id)"""


PHONE_RUNS = """() => {
  // Every phone number in the visible text sits in an element laid out left-to-right, isolated.
  const bad = [];
  const walker = document.createTreeWalker(document.querySelector('main') || document.body, NodeFilter.SHOW_TEXT);
  const phone = /\\+\\d{8,15}/;
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (!phone.test(n.textContent)) continue;
    const el = n.parentElement;
    if (el.closest('input, select, textarea, option, script, code, [hidden], .visually-hidden')) continue;
    const s = getComputedStyle(el);
    if (s.direction !== 'ltr' || !['isolate', 'isolate-override', 'plaintext'].includes(s.unicodeBidi))
      bad.push(n.textContent.trim().slice(0, 60));
  }
  return bad;
}"""


async def axe_violations(page: Page) -> list[str]:
    await page.add_script_tag(content=axe_source())
    found = await page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).slice(0, 3).join(', '))"
    )
    return list(found)


async def test_every_page_in_both_languages_at_both_sizes(
    signed_in: BrowserContext, world: dict[str, Any]
) -> None:
    page = await signed_in.new_page()
    widths: dict[str, int] = {}
    problems: list[str] = []
    for lang in ("en", "ar"):
        await page.set_viewport_size(SIZES["desktop"])
        await set_language(page, lang)
        for size, viewport in SIZES.items():
            await page.set_viewport_size(viewport)
            for name, path in pages(world):
                await page.goto(path)
                await page.wait_for_load_state("networkidle")
                where = f"{name} {lang} {size}"
                width = await page.evaluate("document.documentElement.scrollWidth")
                widths[where] = width
                if width > viewport["width"]:
                    problems.append(f"{where}: {width} px wide: {await page.evaluate(WIDE)}")
                if size == "mobile":
                    height = await page.evaluate(
                        "document.querySelector('header.site-header')?.getBoundingClientRect().height ?? 0"
                    )
                    if height > 90:
                        problems.append(f"{where}: the header is {height:.0f} px tall")
                if bad := await page.evaluate(PHONE_RUNS):
                    problems.append(f"{where}: phone numbers not an LTR run: {bad}")
                if violations := await axe_violations(page):
                    problems.append(f"{where}: axe: {violations}")
                await screenshot(page, f"walk-{name}-{lang}-{size}")
    await page.set_viewport_size(SIZES["desktop"])
    await set_language(page, "en")  # the session is shared with the tests below
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "walk-widths.json").write_text(json.dumps(widths, indent=1))
    (ARTIFACTS / "walk-problems.txt").write_text("\n".join(problems))
    assert problems == []


TABLE_PAGES = (
    "senders",
    "messages",
    "usage",
    "sms-senders",
    "sms-messages",
    "webhooks",
    "webhook",
    "api-keys",
)

STACKED_TABLES = """() => {
  // Every data table fits its box (nothing scrolls sideways, no column cut off) and each cell of a data
  // row is labelled with its column's header (data-label, drawn before the cell's content).
  const bad = [];
  for (const table of document.querySelectorAll('main table')) {
    const box = table.parentElement;
    if (table.getBoundingClientRect().width > box.clientWidth + 1 || box.scrollWidth > box.clientWidth + 1)
      bad.push(`${table.id}: ${Math.round(table.getBoundingClientRect().width)} px in a ${box.clientWidth} px box`);
    const headers = [...table.querySelectorAll('thead th')].map(th => th.textContent.trim());
    for (const row of table.querySelectorAll('tbody tr')) {
      const cells = [...row.children];
      if (cells.some(c => c.colSpan > 1)) continue;  // "nothing here yet"
      cells.forEach((cell, i) => {
        const r = cell.getBoundingClientRect();
        const what = `${table.id} ${headers[i]}: ${cell.textContent.trim().slice(0, 30)}`;
        if (r.left < box.getBoundingClientRect().left - 1 || r.right > box.getBoundingClientRect().right + 1)
          bad.push(`${what}: outside its box`);
        if (cell.scrollWidth > cell.clientWidth + 1) bad.push(`${what}: cut off`);
        const before = getComputedStyle(cell, '::before');
        if (cell.dataset.label !== headers[i]) bad.push(`${what}: labelled ${cell.dataset.label}`);
        else if (before.content === 'none' || before.content === 'normal' || before.display === 'none'
                 || parseFloat(before.width) === 0)
          bad.push(`${what}: its label is not shown`);
      });
    }
  }
  return bad;
}"""


async def test_tables_become_labelled_stacked_rows_on_a_phone(
    signed_in: BrowserContext, world: dict[str, Any]
) -> None:
    page = await signed_in.new_page()
    problems: list[str] = []
    try:
        for lang in ("en", "ar"):
            await page.set_viewport_size(SIZES["desktop"])
            await set_language(page, lang)
            await page.set_viewport_size(SIZES["mobile"])
            for name, path in pages(world):
                if name not in TABLE_PAGES:
                    continue
                await page.goto(path)
                assert await page.locator("main table tbody td").count(), f"{name}: no table to check"
                problems += [f"{name} {lang}: {p}" for p in await page.evaluate(STACKED_TABLES)]
                await screenshot(page, f"stacked-{name}-{lang}-mobile")
        # On a wide screen they stay tables, their header row shown.
        await page.set_viewport_size(SIZES["desktop"])
        await set_language(page, "en")
        await page.goto("/dashboard/messages")
        assert await page.locator("#messages thead").is_visible()
        assert (
            await page.locator("#messages td").first.evaluate("e => getComputedStyle(e).display")
            == "table-cell"
        )
    finally:
        await page.set_viewport_size(SIZES["desktop"])
        await set_language(page, "en")
    (ARTIFACTS / "stacked-problems.txt").write_text("\n".join(problems))
    assert problems == []


# --- one test per defect of issue 17 (each fails on the code before the fix) ------------------------------


async def new_page(
    browser: Browser, live_server: LiveServer, *, locale: str = "en-US", **options: Any
) -> tuple[BrowserContext, Page]:
    ctx = await browser.new_context(base_url=live_server.url, locale=locale, **options)
    ctx.set_default_timeout(15_000)
    return ctx, await ctx.new_page()


async def sign_in(page: Page, email: str, password: str) -> None:
    await page.goto("/dashboard/login")
    await page.locator("#email").fill(email)
    await page.locator("#password").fill(password)
    await page.locator("form[action='/dashboard/login'] button[type=submit]").click()
    await page.wait_for_load_state()


async def test_header_folds_into_a_menu_on_a_phone(signed_in: BrowserContext) -> None:
    page = await signed_in.new_page()
    await page.set_viewport_size(SIZES["mobile"])
    await page.goto("/dashboard/messages")
    toggle = page.locator("#menu-toggle")
    await expect(toggle).to_be_visible()
    await expect(toggle).to_have_attribute("aria-expanded", "false")
    await expect(page.locator("#site-menu")).to_be_hidden()
    await toggle.click()
    await expect(toggle).to_have_attribute("aria-expanded", "true")
    await expect(page.locator("#site-menu").get_by_role("link", name="Usage")).to_be_visible()
    await screenshot(page, "defect-menu-open-mobile")
    await page.keyboard.press("Escape")
    await expect(page.locator("#site-menu")).to_be_hidden()
    await page.set_viewport_size(SIZES["desktop"])
    await expect(toggle).to_be_hidden()
    await expect(page.locator("#site-menu").get_by_role("link", name="Usage")).to_be_visible()


async def test_message_text_takes_its_own_direction(signed_in: BrowserContext, world: dict[str, Any]) -> None:
    page = await signed_in.new_page()
    await page.goto(f"/dashboard/messages/{world['message']}")
    content = page.locator(".message-content")
    await expect(content).to_have_attribute("dir", "auto")
    assert await content.evaluate("e => getComputedStyle(e).direction") == "rtl"
    await page.goto("/dashboard/messages")
    cell = page.locator("#messages .message-content", has_text="Demo Organization")
    assert await cell.evaluate("e => getComputedStyle(e).direction") == "rtl"


async def test_arabic_breadcrumb_has_no_stray_backslash(
    signed_in: BrowserContext, world: dict[str, Any]
) -> None:
    page = await signed_in.new_page()
    await set_language(page, "ar")
    try:
        await page.goto(f"/dashboard/messages/{world['message']}")
        extra = await page.evaluate(
            "[...document.querySelectorAll('nav[aria-label=breadcrumb] li *')]"
            ".map(e => getComputedStyle(e, '::after').content).filter(c => c && c !== 'none' && c !== 'normal')"
        )
        assert extra == []
    finally:
        await set_language(page, "en")


async def test_filter_bar_is_a_plain_row_of_fields(signed_in: BrowserContext) -> None:
    page = await signed_in.new_page()
    await page.set_viewport_size(SIZES["desktop"])
    for path in ("/dashboard/messages", "/dashboard/usage"):
        await page.goto(path)
        form = page.locator("main form.filters")
        assert await form.get_attribute("role") is None
        buttons = form.locator(".button-row > *")
        tops = {
            round((await buttons.nth(i).bounding_box() or {"y": 0})["y"])
            for i in range(await buttons.count())
        }
        assert len(tops) == 1, f"{path}: the buttons sit on {len(tops)} rows"
        radius = await form.locator("input, select").first.evaluate(
            "e => { const s = getComputedStyle(e); return [s.borderTopLeftRadius, s.borderTopRightRadius,"
            " s.borderBottomLeftRadius, s.borderBottomRightRadius]; }"
        )
        assert len(set(radius)) == 1 and radius[0] != "80px", f"{path}: {radius}"


async def test_a_new_user_keeps_the_browsers_language_after_login(
    browser: Browser, live_server: LiveServer
) -> None:
    email = "arabic-browser@demo.localhost"
    live_server.tgo("user", "create", "--tenant", "demo", "--email", email, "--password", "arabic-browser-1")
    ctx, page = await new_page(browser, live_server, locale="ar-EG")
    try:
        await page.goto("/dashboard/login")
        await expect(page.locator("html")).to_have_attribute("lang", "ar")
        await sign_in(page, email, "arabic-browser-1")
        await expect(page.locator("html")).to_have_attribute("lang", "ar")
        await expect(page.locator("html")).to_have_attribute("dir", "rtl")
    finally:
        await ctx.close()


async def test_unknown_urls_and_missing_objects_get_html_404_pages(signed_in: BrowserContext) -> None:
    page = await signed_in.new_page()
    for path in ("/dashboard/no-such-page", "/dashboard/messages/987654321", "/dashboard/webhooks/987654321"):
        response = await page.goto(path)
        assert response is not None and response.status == 404, path
        assert "text/html" in (await response.header_value("content-type") or ""), path
        await expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
        await expect(page.locator("header.site-header")).to_be_visible()
    await screenshot(page, "defect-not-found")


async def test_connect_inbox_pages_marks_all_and_switches_phones(
    signed_in: BrowserContext, live_server: LiveServer, world: dict[str, Any]
) -> None:
    async def many() -> None:
        async with httpx.AsyncClient(
            base_url=live_server.url, headers={"X-Api-Key": live_server.demo["api_key"]}
        ) as api:
            for i in range(25):
                await send_text(api, SENDER, RECIPIENT, f"bulk {i}")

    await many()
    page = await signed_in.new_page()
    # A second phone opened in the same session: the switcher offers both.
    await page.goto(f"/dashboard/connect?phone={SENDER.replace('+', '%2B')}")
    await page.locator("#inbox-key").fill(live_server.tgo("connect", "inbox", SENDER)["inbox_key"])
    await page.locator("form[action='/dashboard/connect'] button[type=submit]").click()
    switcher = page.locator("#inbox-switcher")
    await expect(switcher.get_by_role("link")).to_have_count(2)
    await switcher.get_by_role("link", name=RECIPIENT).click()
    await expect(switcher.locator("a[aria-current=page]")).to_have_text(RECIPIENT)
    for _ in range(50):
        if await page.locator("#inbox-messages article").count() == 20:
            break
        await page.reload()
    await expect(page.locator("#inbox-messages article")).to_have_count(20)
    await page.locator("#inbox-older").click()
    assert await page.locator("#inbox-messages article").count() >= 8
    await page.goto(f"/dashboard/connect?phone={RECIPIENT.replace('+', '%2B')}")
    await page.locator("#mark-all-read button").click()
    await expect(page.locator("#inbox-messages article.unread")).to_have_count(0)
    await expect(page.locator("#mark-all-read")).to_have_count(0)


async def test_form_errors_sit_beside_their_fields(signed_in: BrowserContext) -> None:
    page = await signed_in.new_page()
    await page.goto("/dashboard/sender-numbers")
    await page.locator("#phone").fill("12345")
    await page.get_by_role("button", name="Register and send the code").click()
    phone = page.locator("#phone")
    await expect(phone).to_have_attribute("aria-invalid", "true")
    described = (await phone.get_attribute("aria-describedby") or "").split()
    assert "phone-error" in described
    await expect(page.locator("#phone-error")).to_be_visible()
    await expect(page.locator("main")).not_to_contain_text("The given data was invalid.")
    await expect(page.locator("#form-errors")).to_have_count(0)


async def test_focus_ring_is_plainly_visible(signed_in: BrowserContext) -> None:
    page = await signed_in.new_page()
    await page.goto("/dashboard/messages")
    await page.keyboard.press("Tab")
    await page.keyboard.press("Tab")
    ring = await page.evaluate(
        "(() => { const s = getComputedStyle(document.activeElement);"
        " return [parseFloat(s.outlineWidth), s.outlineStyle, s.outlineColor]; })()"
    )
    assert ring[0] >= 3 and ring[1] == "solid" and "rgba" not in ring[2], ring


async def test_revoking_a_recently_used_key_warns(signed_in: BrowserContext, live_server: LiveServer) -> None:
    async with httpx.AsyncClient(
        base_url=live_server.url, headers={"X-Api-Key": live_server.demo["api_key"]}
    ) as api:
        assert (await api.get("/api/v1/messages")).status_code == 200
    page = await signed_in.new_page()
    await page.goto(f"/dashboard/api-keys/{live_server.demo['api_key_id']}/revoke")
    await expect(page.locator("#revoke-recent")).to_be_visible()
    await expect(page.locator("#revoke-recent")).to_contain_text("ago")


async def test_readable_labels_instead_of_raw_codes(signed_in: BrowserContext, world: dict[str, Any]) -> None:
    page = await signed_in.new_page()
    await page.goto(f"/dashboard/sender-numbers/{world['pending']}")
    text = await page.locator("main").inner_text()
    assert "pending_otp" not in text and "pending_verification" not in text
    codes = await page.locator("main code").all_inner_texts()
    assert not {"pending_otp", "pending_verification", "verified"} & set(codes), codes
    await expect(page.locator("#verification-status")).to_have_text("Waiting for the code")


async def test_one_button_size_per_row_url_and_day_wrapping_and_favicon(
    signed_in: BrowserContext, world: dict[str, Any]
) -> None:
    page = await signed_in.new_page()
    await page.set_viewport_size(SIZES["mobile"])
    await page.goto(f"/dashboard/webhooks/{world['webhook']}")
    heights = await page.evaluate(
        "[...document.querySelectorAll('main .button-row')[0].querySelectorAll('button, a[role=button]')]"
        ".map(e => Math.round(e.getBoundingClientRect().height))"
    )
    assert len(heights) >= 3 and len(set(heights)) == 1, heights
    # The URL breaks only after a slash: the host stays on one line.
    url = page.locator("main dd code.url")
    html = await url.inner_html()
    host = LONG_URL.split("/")[2]
    assert host in html.replace("<wbr>", "|").split("|")[2], html
    await page.goto("/dashboard/usage")
    day = page.locator("#usage-days td bdi").first
    if await day.count():
        assert await day.evaluate("e => getComputedStyle(e).whiteSpace") == "nowrap"
    icon = await page.locator("link[rel=icon]").get_attribute("href")
    assert icon
    response = await page.request.get(icon)
    assert response.status == 200 and "svg" in (response.headers.get("content-type") or "")


async def test_sms_sender_country_is_a_list_in_the_pages_language(signed_in: BrowserContext) -> None:
    page = await signed_in.new_page()
    await page.goto("/dashboard/sms-senders")
    country = page.locator("#sms-country")
    assert await country.evaluate("e => e.tagName") == "SELECT"
    await expect(country.locator("option[value=EG]")).to_have_text("Egypt (EG)")
    await set_language(page, "ar")
    try:
        await page.goto("/dashboard/sms-senders")
        await expect(page.locator("#sms-country option[value=EG]")).to_have_text("مصر (EG)")
    finally:
        await set_language(page, "en")


async def test_times_in_the_browsers_zone_then_the_profiles(
    browser: Browser, live_server: LiveServer, world: dict[str, Any]
) -> None:
    email = "zones@demo.localhost"
    live_server.tgo("user", "create", "--tenant", "demo", "--email", email, "--password", "zones-user-1")
    ctx, page = await new_page(browser, live_server, timezone_id="Africa/Cairo")
    try:
        await sign_in(page, email, "zones-user-1")
        await page.goto(f"/dashboard/messages/{world['message']}")
        first = page.locator("#status-history time").first
        await expect(first).to_contain_text("EET")
        await page.goto("/dashboard/profile")
        await page.locator("#profile-zone").select_option("Asia/Riyadh")
        await page.locator("#save-profile").click()
        await page.goto(f"/dashboard/messages/{world['message']}")
        await expect(page.locator("#status-history time").first).to_contain_text("+03")
    finally:
        await ctx.close()


CONTROLS = """() => [...document.querySelectorAll(
    'a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex="0"]')]
  .filter(e => !e.disabled && e.getClientRects().length && getComputedStyle(e).visibility !== 'hidden')
  .filter(e => !e.closest('details:not([open])') || e.tagName === 'SUMMARY')
  .map(e => e.outerHTML.slice(0, 80))"""

FOCUSED = """() => { const e = document.activeElement; const s = getComputedStyle(e);
  return [e.outerHTML.slice(0, 80), parseFloat(s.outlineWidth), s.outlineStyle]; }"""


async def test_keyboard_walk_reaches_every_control_with_a_visible_ring(
    signed_in: BrowserContext, world: dict[str, Any]
) -> None:
    page = await signed_in.new_page()
    await page.set_viewport_size(SIZES["desktop"])
    problems: list[str] = []
    for lang in ("en", "ar"):
        await set_language(page, lang)
        for name, path in pages(world):
            await page.goto(path)
            await page.wait_for_load_state("networkidle")
            wanted = set(await page.evaluate(CONTROLS))
            reached: set[str] = set()
            for _ in range(3 * len(wanted) + 5):  # a date field takes one Tab per part
                if wanted <= reached:
                    break
                await page.keyboard.press("Tab")
                html, width, style = await page.evaluate(FOCUSED)
                if html.startswith("<body"):
                    continue
                reached.add(html)
                if width < 3 or style != "solid":
                    problems.append(f"{name} {lang}: no visible ring on {html}")
            if missed := wanted - reached:
                problems.append(f"{name} {lang}: Tab never reaches {sorted(missed)[:3]}")
    await set_language(page, "en")
    (ARTIFACTS / "keyboard-problems.txt").write_text("\n".join(problems))
    assert problems == []
