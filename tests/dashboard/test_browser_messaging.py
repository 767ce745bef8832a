"""In a real browser against the real server: register a sender number, read the OTP on the Connect page,
enter it, see the status change; send a message with the API and follow it in the log."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.dashboard.browser import (
    OTP,
    LiveServer,
    active_sender_via_api,
    browser,
    context,
    live_server,
    log_in,
    page,
    screenshot,
)

__all__ = ["browser", "context", "live_server", "page"]  # fixtures used by the tests below

pytestmark = pytest.mark.browser


async def register_in_browser(page: Page, phone: str, display_name: str) -> None:
    await page.goto("/dashboard/sender-numbers")
    await page.get_by_label("Phone number").fill(phone)
    await page.get_by_label("Display name").fill(display_name)
    await page.get_by_role("button", name="Register and send the code").click()
    await expect(page.locator("#sender-status .badge")).to_have_text("Waiting for the code")


async def read_otp_on_connect_page(page: Page, inbox_key: str) -> str:
    await page.get_by_role("link", name="Open this number's TGO Connect inbox").click()
    # The owner opens the phone's inbox with the phone's key (what `tgo connect account create` printed).
    await page.get_by_label("Inbox key").fill(inbox_key)
    await page.get_by_role("button", name="Open inbox").click()
    message = page.locator(".inbox-message .message-content").first
    await expect(message).to_contain_text("verification code")
    found = OTP.search(await message.inner_text())
    assert found
    return found.group(1)


async def test_register_a_number_read_the_otp_enter_it(page: Page, live_server: LiveServer) -> None:
    phone = "+201001187201"
    owner = live_server.tgo("connect", "account", "create", phone, "--name", "Browser Owner", "--verified")
    await log_in(page, live_server.email, live_server.password)
    await register_in_browser(page, phone, "Support")
    await expect(page.get_by_role("status").first).to_contain_text("is registered")
    await screenshot(page, "sender-registered")
    detail_url = page.url

    code = await read_otp_on_connect_page(page, owner["inbox_key"])
    await screenshot(page, "connect-inbox-otp")

    await page.goto(detail_url)
    await page.get_by_label("6-digit code").fill(code)
    await page.get_by_role("button", name="Confirm").click()
    await expect(page.locator("#sender-status .badge")).to_have_text("Active")
    await expect(page.locator("#can-send")).to_have_text("Yes")
    await expect(page.get_by_role("status").first).to_contain_text("ready to send")
    await page.goto("/dashboard/sender-numbers")
    row = page.locator("tr", has_text=phone)
    await expect(row.locator(".badge")).to_have_text("Active")
    await screenshot(page, "sender-active")


async def test_unverified_owner_then_verified_in_connect(page: Page, live_server: LiveServer) -> None:
    phone = "+201001187202"
    owner = live_server.tgo("connect", "account", "create", phone, "--name", "Unverified Owner")
    await log_in(page, live_server.email, live_server.password)
    await register_in_browser(page, phone, "Sales")
    detail_url = page.url
    code = await read_otp_on_connect_page(page, owner["inbox_key"])
    await page.goto(detail_url)
    await page.get_by_label("6-digit code").fill(code)
    await page.get_by_role("button", name="Confirm").click()
    badge = page.locator("#sender-status .badge")
    await expect(badge).to_have_text("Needs account verification")
    await expect(page.locator("#status-help")).to_contain_text("must now verify their TGO Connect account")
    await expect(page.locator("#account-verification-steps")).to_be_visible()
    await screenshot(page, "sender-needs-account-verification")
    # The owner verifies inside Connect; the open page follows by itself (no reload, no new OTP).
    live_server.tgo("connect", "account", "verify", phone)
    await expect(badge).to_have_text("Active", timeout=30_000)
    await expect(page.locator("#verification-status")).to_have_text("Verified")
    await expect(page.locator("#verification-status")).to_have_attribute("data-verification", "verified")
    await screenshot(page, "sender-verified-later")


async def test_send_with_the_api_follow_it_in_the_log(page: Page, live_server: LiveServer) -> None:
    sender, recipient = "+201001187203", "+201001187204"
    headers = {"X-Api-Key": live_server.demo["api_key"]}
    async with httpx.AsyncClient(base_url=live_server.url, headers=headers) as api:
        await active_sender_via_api(api, live_server, sender)
        reader = live_server.tgo(
            "connect", "account", "create", recipient, "--name", "Browser Recipient", "--verified"
        )
        sent = await api.post(
            "/api/v1/messages",
            json={
                "sender_phone": sender,
                "to_phone": recipient,
                "type": "text",
                "content": "Your order shipped",
            },
        )
        assert sent.status_code == 201, sent.text
        message_id = sent.json()["id"]

    await log_in(page, live_server.email, live_server.password)
    await page.goto("/dashboard/messages")
    row = page.locator(f"tr[data-message-id='{message_id}']")
    await expect(row).to_contain_text("Your order shipped")
    for _ in range(60):
        if (await row.locator(".message-status").inner_text()).strip() == "Delivered":
            break
        await asyncio.sleep(0.5)
        await page.reload()
    await expect(row.locator(".message-status")).to_have_text("Delivered")
    await screenshot(page, "messages-log")

    await row.get_by_role("link").first.click()
    await expect(page.locator("#message-status")).to_have_text("Delivered")
    history = page.locator("#status-history li")
    await expect(history.first).to_contain_text("Queued")
    await expect(history.last).to_contain_text("Delivered")
    # "Sent" is there unless Connect's delivery receipt overtook the worker's own "sent" update.
    steps = [t.strip().split()[0] for t in await history.all_inner_texts()]
    assert steps in (["Queued", "Sent", "Delivered"], ["Queued", "Delivered"])
    await screenshot(page, "message-details")

    # The recipient reads it on the Connect page; the log then says "Read".
    await page.goto(f"/dashboard/connect?phone={recipient.replace('+', '%2B')}")
    await page.get_by_label("Inbox key").fill(reader["inbox_key"])
    await page.get_by_role("button", name="Open inbox").click()
    assert reader["inbox_key"] not in page.url
    incoming = page.locator(".inbox-message", has_text="Your order shipped")
    await incoming.get_by_role("button", name="Mark as read").click()
    await expect(page.get_by_role("status").first).to_contain_text("Marked as read.")
    await screenshot(page, "connect-inbox-recipient")
    await page.goto(f"/dashboard/messages/{message_id}")
    for _ in range(60):
        if (await page.locator("#message-status").inner_text()).strip() == "Read":
            break
        await asyncio.sleep(0.5)
        await page.reload()
    await expect(page.locator("#message-status")).to_have_text("Read")


async def test_media_previews_image_audio_and_document(page: Page, live_server: LiveServer) -> None:
    from tests.fixtures import media

    sender, recipient = "+201001187205", "+201001187206"
    headers = {"X-Api-Key": live_server.demo["api_key"]}
    async with httpx.AsyncClient(base_url=live_server.url, headers=headers) as api:
        await active_sender_via_api(api, live_server, sender)
        live_server.tgo("connect", "account", "create", recipient, "--name", "Media Recipient", "--verified")
        base = {"sender_phone": sender, "to_phone": recipient}
        image = await api.post(
            "/api/v1/messages",
            data={**base, "type": "image", "caption": "a small picture"},
            files={"media": ("picture.png", media.png((40, 30)), "image/png")},
        )
        voice = await api.post(
            "/api/v1/messages",
            data={**base, "type": "voice", "duration": "2"},
            files={"media": ("note.ogg", media.ogg_opus(2), "audio/ogg")},
        )
        document = await api.post(
            "/api/v1/messages",
            data={**base, "type": "document", "caption": "the invoice"},
            files={"media": ("invoice.pdf", media.pdf(), "application/pdf")},
        )
        for sent in (image, voice, document):
            assert sent.status_code == 201, sent.text

    await log_in(page, live_server.email, live_server.password)
    await page.goto(f"/dashboard/messages/{image.json()['id']}")
    picture = page.locator("#media-preview img")
    await expect(picture).to_have_attribute("alt", "a small picture")
    await expect(picture).to_be_visible()
    await page.wait_for_function(
        "() => { const i = document.querySelector('#media-preview img'); return i.complete && i.naturalWidth === 40; }"
    )
    await screenshot(page, "message-image-preview")

    await page.goto(f"/dashboard/messages/{voice.json()['id']}")
    player = page.locator("#media-preview audio[controls]")
    await expect(player).to_be_visible()
    assert (await player.get_attribute("src") or "").startswith("/dashboard/media/")

    await page.goto(f"/dashboard/messages/{document.json()['id']}")
    await expect(page.locator("#media-preview img, #media-preview audio")).to_have_count(0)
    async with page.expect_download() as info:
        await page.locator("#media-download").click()
    download = await info.value
    assert download.suggested_filename == "invoice.pdf"
    assert (await download.path()).read_bytes() == media.pdf()
    await screenshot(page, "message-document")
