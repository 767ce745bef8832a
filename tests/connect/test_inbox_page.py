"""Connect's own browser inbox (/connect/inbox/{phone}): the key is taken once in a posted form and never
travels in a URL or a form the page renders; a signed cookie of Connect's own remembers the phones this
browser opened; every HTML page is no-store, sends no Referer, has a strict CSP and cannot be framed."""

from __future__ import annotations

import base64
import hashlib
import re

import httpx
import pytest

from tgo.channels.connect_admin import ConnectAdminClient
from tgo.channels.connect_types import OutboundMessage
from tgo.connect_network.inbox_grant import COOKIE_NAME
from tgo.runtime import Runtime

OWNER = "+201001187188"
OTHER = "+201001187199"
SENDER = "+201001187190"


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'name="_csrf" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


def assert_protected(page: httpx.Response) -> None:
    assert page.headers["content-type"].startswith("text/html"), page.headers
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "form-action 'self'" in csp
    assert "unsafe-inline" not in csp
    # The page's one stylesheet is allowed by its hash (so a browser applies it, and nothing injected).
    style = re.search(r"<style>(.*?)</style>", page.text, re.S)
    if style:
        digest = base64.b64encode(hashlib.sha256(style.group(1).encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp


@pytest.fixture
async def otp_inbox(runtime: Runtime) -> str:
    c = ConnectAdminClient.of(runtime.connect.get())
    await c.create_account(OWNER, language="ar")
    await c.create_account(OTHER)
    await c.deliver(
        OutboundMessage(
            business_message_id="otp:page",
            sender_phone=SENDER,
            sender_name="Acme <b>",
            to_phone=OWNER,
            type="system",
            content="رمز التحقق 654321",
        )
    )
    return c.inbox_key(OWNER)


async def test_the_key_is_posted_once_and_never_in_a_url(
    client: httpx.AsyncClient, runtime: Runtime, otp_inbox: str
) -> None:
    key = otp_inbox
    form = await client.get(f"/connect/inbox/{OWNER}")
    assert form.status_code == 200 and "654321" not in form.text
    assert 'name="key"' in form.text and 'method="post"' in form.text
    assert_protected(form)
    # A key in the URL (an old link, a leaked Referer) opens nothing: the page asks for it in the form.
    leaked = await client.get(f"/connect/inbox/{OWNER}", params={"key": key})
    assert leaked.status_code == 200 and "654321" not in leaked.text
    wrong = await client.post(f"/connect/inbox/{OWNER}", data={"key": "wrong", "_csrf": csrf_of(form)})
    assert wrong.status_code == 422 and "654321" not in wrong.text
    assert_protected(wrong)
    # A post without the page's CSRF token (another site's form) opens nothing, even with the right key.
    forged = await client.post(f"/connect/inbox/{OWNER}", data={"key": key, "_csrf": "forged"})
    assert forged.status_code == 422 and "654321" not in (await client.get(f"/connect/inbox/{OWNER}")).text

    opened = await client.post(
        f"/connect/inbox/{OWNER}", data={"key": key, "_csrf": csrf_of(form)}, follow_redirects=False
    )
    assert opened.status_code == 303 and opened.headers["location"] == f"/connect/inbox/{OWNER}"
    cookie = opened.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE_NAME}=") and key not in cookie
    assert (
        "HttpOnly" in cookie
        and "Path=/connect/inbox" in cookie
        and "SameSite=lax" in cookie.replace("Lax", "lax")
    )
    assert opened.headers["cache-control"] == "no-store"

    page = await client.get(f"/connect/inbox/{OWNER}")
    assert page.status_code == 200 and "654321" in page.text and 'dir="rtl"' in page.text
    assert "Acme &lt;b&gt;" in page.text  # escaped
    assert key not in page.text and "key=" not in page.text
    assert_protected(page)
    # The grant is for the phone whose key was posted, not for another one.
    other = await client.get(f"/connect/inbox/{OTHER}")
    assert other.status_code == 200 and 'name="key"' in other.text
    # Another browser (no cookie) sees the form.
    async with httpx.AsyncClient(transport=client._transport, base_url=str(client.base_url)) as stranger:
        assert "654321" not in (await stranger.get(f"/connect/inbox/{OWNER}")).text


async def test_mark_read_needs_the_grant_and_the_pages_token(
    client: httpx.AsyncClient, runtime: Runtime, otp_inbox: str
) -> None:
    c = ConnectAdminClient.of(runtime.connect.get())
    [msg] = await c.inbox(OWNER)
    form = await client.get(f"/connect/inbox/{OWNER}")
    # Without having opened the inbox nothing is marked read, even with a token from the form page.
    r = await client.post(f"/connect/inbox/{OWNER}/read/{msg.id}", data={"_csrf": csrf_of(form)})
    assert (await c.inbox(OWNER))[0].read_at is None
    await client.post(f"/connect/inbox/{OWNER}", data={"key": otp_inbox, "_csrf": csrf_of(form)})
    page = await client.get(f"/connect/inbox/{OWNER}")
    assert f'action="/connect/inbox/{OWNER}/read/{msg.id}"' in page.text
    r = await client.post(f"/connect/inbox/{OWNER}/read/{msg.id}", data={}, follow_redirects=False)
    assert r.status_code == 303 and (await c.inbox(OWNER))[0].read_at is None  # no token: a forged post
    r = await client.post(
        f"/connect/inbox/{OWNER}/read/{msg.id}", data={"_csrf": csrf_of(page)}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == f"/connect/inbox/{OWNER}"
    assert r.headers["cache-control"] == "no-store"
    assert (await c.inbox(OWNER))[0].read_at is not None


async def test_a_tampered_or_foreign_cookie_grants_nothing(
    client: httpx.AsyncClient, runtime: Runtime, otp_inbox: str
) -> None:
    from tgo.connect_network.inbox_grant import InboxGrant, InboxGrantCodec

    forged = InboxGrantCodec(b"another deployment's secret").dump(InboxGrant(phones=[OWNER]))
    client.cookies.set(COOKIE_NAME, forged, path="/connect/inbox")
    page = await client.get(f"/connect/inbox/{OWNER}")
    assert page.status_code == 200 and "654321" not in page.text and 'name="key"' in page.text
    # A malformed phone is a 404, as before (nothing says whether an account exists).
    assert (await client.get("/connect/inbox/12ab")).status_code == 404
