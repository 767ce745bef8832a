"""A webhook's "Send test event": a real signed delivery of the documented ``webhook.test`` event to that
endpoint only, its payload shown, logged with the deliveries (in process, SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import html
import json
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from standardwebhooks.webhooks import Webhook as StandardWebhook

from tests.conftest import MakeTenant
from tests.dashboard.conftest import csrf_of, log_in
from tests.webhooks.receiver import Receiver
from tgo.events import EVENT_TYPES


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver()
    await r.start()
    try:
        yield r
    finally:
        await r.stop()


async def add_endpoint(client: httpx.AsyncClient, url: str, events: list[str]) -> tuple[int, str]:
    page = await client.get("/dashboard/webhooks")
    created = await client.post(
        "/dashboard/webhooks", data={"url": url, "events": events, "_csrf": csrf_of(page.text)}
    )
    assert created.status_code == 201, created.text
    secret = re.search(r'id="new-secret"[^>]*value="([^"]+)"', created.text)
    listing = await client.get("/dashboard/webhooks")
    webhook_id = int(re.search(r'data-webhook-id="(\d+)"', listing.text).group(1))  # type: ignore[union-attr]
    assert secret
    return webhook_id, secret.group(1)


async def test_send_test_event_is_a_signed_delivery_with_its_payload_shown(
    signed_in: httpx.AsyncClient, receiver: Receiver
) -> None:
    assert "webhook.test" in EVENT_TYPES
    # Subscribed to something else: the test event still goes to this endpoint (and only there).
    webhook_id, secret = await add_endpoint(signed_in, receiver.url, ["message.delivered"])
    detail = await signed_in.get(f"/dashboard/webhooks/{webhook_id}")
    assert 'id="send-test-event"' in detail.text
    sent = await signed_in.post(
        f"/dashboard/webhooks/{webhook_id}/test", data={"_csrf": csrf_of(detail.text)}
    )
    assert sent.status_code == 202, sent.text
    payload_html = re.search(
        r'<pre dir="ltr" class="payload" id="test-payload"[^>]*><code>(.*?)</code></pre>', sent.text, re.S
    )
    assert payload_html
    shown = json.loads(html.unescape(payload_html.group(1)))
    assert shown["type"] == "webhook.test" and shown["data"]["webhook_id"] == webhook_id
    assert shown["id"].startswith("evt_") and isinstance(shown["sequence"], int)

    for _ in range(200):
        if receiver.delivered:
            break
        await asyncio.sleep(0.05)
    assert len(receiver.delivered) == 1
    got = receiver.delivered[0]
    verified = StandardWebhook(secret).verify(got.body, got.headers)  # raises unless signed with the secret
    assert verified == shown
    assert got.headers["webhook-id"] == shown["id"]

    log = ""
    for _ in range(200):
        log = (await signed_in.get(f"/dashboard/webhooks/{webhook_id}")).text
        if 'badge-good">Succeeded<' in log:
            break
        await asyncio.sleep(0.05)
    assert '<code dir="ltr">webhook.test</code>' in log and 'badge-good">Succeeded<' in log


async def test_paused_or_other_tenants_endpoint(
    signed_in: httpx.AsyncClient, receiver: Receiver, make_tenant: MakeTenant
) -> None:
    webhook_id, _ = await add_endpoint(signed_in, receiver.url, ["message.read"])
    detail = await signed_in.get(f"/dashboard/webhooks/{webhook_id}")
    await signed_in.post(
        f"/dashboard/webhooks/{webhook_id}/active", data={"active": "false", "_csrf": csrf_of(detail.text)}
    )
    paused = await signed_in.get(f"/dashboard/webhooks/{webhook_id}")
    assert 'id="send-test-event"' not in paused.text
    refused = await signed_in.post(
        f"/dashboard/webhooks/{webhook_id}/test", data={"_csrf": csrf_of(paused.text)}
    )
    assert refused.status_code == 303
    assert "flash-error" in (await signed_in.get(refused.headers["location"])).text
    after = await signed_in.get(f"/dashboard/webhooks/{webhook_id}")
    assert 'data-delivery-id="' not in after.text  # nothing was written

    other = await make_tenant("other")
    from tgo.users.service import create_user

    runtime = signed_in._transport.app.state.runtime  # type: ignore[attr-defined]
    async with runtime.db.session_scope() as session:
        await create_user(session, other.id, email="someone@other.example", password="password-other")
    signed_in.cookies.clear()
    await log_in(signed_in, "someone@other.example", "password-other")
    page = await signed_in.get("/dashboard/webhooks")
    theirs = await signed_in.post(
        f"/dashboard/webhooks/{webhook_id}/test", data={"_csrf": csrf_of(page.text)}
    )
    assert theirs.status_code == 404
    await asyncio.sleep(0.3)
    assert receiver.requests == []
