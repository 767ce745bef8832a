"""Sender-number pages and the Connect inbox page, in process (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import re

import httpx
from sqlalchemy import func, select

from tests.conftest import Clock, MakeKey, MakeTenant
from tests.dashboard.conftest import DashboardUser, csrf_of, log_in
from tests.fixtures.connect import ConnectHelper
from tgo.models import SenderNumber
from tgo.runtime import Runtime

OWNER = "+201001187188"


async def register(client: httpx.AsyncClient, phone: str = OWNER) -> httpx.Response:
    page = await client.get("/dashboard/sender-numbers")
    return await client.post(
        "/dashboard/sender-numbers",
        data={"phone": phone, "display_name": "Support", "_csrf": csrf_of(page.text)},
    )


async def open_inbox(client: httpx.AsyncClient, phone: str, key: str) -> httpx.Response:
    """Post the phone's inbox key on the Connect page (the key is never put in a URL)."""
    page = await client.get("/dashboard/connect")
    return await client.post(
        "/dashboard/connect", data={"phone": phone, "key": key, "_csrf": csrf_of(page.text)}
    )


async def otp_from_inbox_page(client: httpx.AsyncClient, connect: ConnectHelper, phone: str = OWNER) -> str:
    opened = await open_inbox(client, phone, connect.inbox_key(phone))
    assert opened.status_code == 303, opened.text
    for _ in range(50):
        page = await client.get(opened.headers["location"])
        found = re.search(r'class="message-content">[^<]*?\b(\d{6})\b', page.text)
        if found:
            return found.group(1)
        await asyncio.sleep(0.1)
    raise AssertionError("no OTP in the inbox page")


async def test_register_read_otp_verify_active(signed_in: httpx.AsyncClient, connect: ConnectHelper) -> None:
    await connect.account(OWNER, verified=True)
    response = await register(signed_in)
    assert response.status_code == 303, response.text
    detail_url = response.headers["location"]
    detail = await signed_in.get(detail_url)
    assert "Waiting for the code" in detail.text
    assert "is registered. We sent a 6-digit code" in detail.text
    code = await otp_from_inbox_page(signed_in, connect)
    verified = await signed_in.post(detail_url + "/verify", data={"otp": code, "_csrf": csrf_of(detail.text)})
    assert verified.status_code == 303
    after = await signed_in.get(detail_url)
    assert "Code accepted. The number is active and ready to send." in after.text
    assert 'data-status="active"' in after.text


async def test_unverified_owner_shows_needs_account_verification(
    signed_in: httpx.AsyncClient, connect: ConnectHelper
) -> None:
    await connect.account(OWNER, verified=False)
    detail_url = (await register(signed_in)).headers["location"]
    detail = await signed_in.get(detail_url)
    code = await otp_from_inbox_page(signed_in, connect)
    await signed_in.post(detail_url + "/verify", data={"otp": code, "_csrf": csrf_of(detail.text)})
    listing = await signed_in.get("/dashboard/sender-numbers")
    assert "Needs account verification" in listing.text
    assert "must now verify their TGO Connect account inside TGO Connect" in listing.text
    status = await signed_in.get(detail_url + "/status")
    assert 'hx-trigger="every 3s"' in status.text
    assert "Ask the number owner to log in to TGO Connect." in status.text
    # The owner verifies inside Connect: the page shows it without any action here.
    await connect.set_verified(OWNER, True)
    for _ in range(50):
        status = await signed_in.get(detail_url + "/status")
        if 'data-status="active"' in status.text and "verified" in status.text:
            break
        await asyncio.sleep(0.1)
    assert 'data-status="active"' in status.text


async def test_wrong_code_is_counted_and_explained(
    signed_in: httpx.AsyncClient, connect: ConnectHelper
) -> None:
    await connect.account(OWNER, verified=True)
    detail_url = (await register(signed_in)).headers["location"]
    detail = await signed_in.get(detail_url)
    code = await otp_from_inbox_page(signed_in, connect)
    wrong = "000000" if code != "000000" else "111111"
    first = await signed_in.post(detail_url + "/verify", data={"otp": wrong, "_csrf": csrf_of(detail.text)})
    assert first.status_code == 422
    assert "4 attempts left" in first.text
    second = await signed_in.post(detail_url + "/verify", data={"otp": wrong, "_csrf": csrf_of(detail.text)})
    assert "3 attempts left" in second.text  # the first failure was kept
    malformed = await signed_in.post(
        detail_url + "/verify", data={"otp": "12ab", "_csrf": csrf_of(detail.text)}
    )
    assert malformed.status_code == 422
    assert "exactly 6 digits" in malformed.text


async def test_resend_is_cooled_down(signed_in: httpx.AsyncClient, connect: ConnectHelper) -> None:
    await connect.account(OWNER, verified=True)
    detail_url = (await register(signed_in)).headers["location"]
    detail = await signed_in.get(detail_url)
    response = await signed_in.post(detail_url + "/resend", data={"_csrf": csrf_of(detail.text)})
    assert response.status_code == 429
    assert "wait a minute" in response.text


async def test_register_errors_are_shown_in_arabic(
    signed_in: httpx.AsyncClient, connect: ConnectHelper
) -> None:
    page = await signed_in.get("/dashboard/sender-numbers")
    await signed_in.post("/dashboard/language", data={"lang": "ar", "_csrf": csrf_of(page.text)})
    bad = await register(signed_in, "12345")
    assert bad.status_code == 422
    assert "أدخل رقم هاتف صحيحًا" in bad.text
    unknown = await register(signed_in, "+201001187100")
    assert unknown.status_code == 422
    assert 'dir="rtl"' in unknown.text


async def test_connect_inbox_marks_read(signed_in: httpx.AsyncClient, connect: ConnectHelper) -> None:
    await connect.account(OWNER, verified=True)
    await register(signed_in)
    page = await signed_in.get("/dashboard/connect", params={"phone": OWNER})
    # Marking read needs the inbox opened with the phone's key first.
    refused = await signed_in.post(
        "/dashboard/connect/read",
        data={
            "phone": OWNER,
            "message_id": str((await connect.last_message(OWNER)).id),
            "_csrf": csrf_of(page.text),
        },
    )
    assert refused.status_code == 303
    assert "does not open" in (await signed_in.get(refused.headers["location"])).text
    assert (await connect.last_message(OWNER)).read_at is None
    await otp_from_inbox_page(signed_in, connect)
    page = await signed_in.get("/dashboard/connect", params={"phone": OWNER})
    message_id = re.search(r'name="message_id" value="(\d+)"', page.text)
    assert message_id
    done = await signed_in.post(
        "/dashboard/connect/read",
        data={"phone": OWNER, "message_id": message_id.group(1), "_csrf": csrf_of(page.text)},
    )
    assert done.status_code == 303
    after = await signed_in.get(done.headers["location"])
    assert "Marked as read." in after.text
    assert 'name="message_id"' not in after.text
    assert (await connect.last_message(OWNER)).read_at is not None
    missing = await open_inbox(signed_in, "+201001187100", connect.inbox_key("+201001187100"))
    assert "No TGO Connect account uses" in (await signed_in.get(missing.headers["location"])).text


async def test_connect_inbox_needs_the_phones_key(
    signed_in: httpx.AsyncClient, connect: ConnectHelper, dashboard_user: DashboardUser
) -> None:
    """A dashboard user is not the phone's owner: without the phone's inbox key they cannot read the OTP of
    a number they register, and a wrong key says the same whether or not the phone has an account. The key
    is posted, never put in a URL, and the session remembers only which phone it opened."""
    await connect.account(OWNER, verified=True)
    await register(signed_in)
    otp = await connect.otp(OWNER)
    # Not opened: neither the page nor the fragment shows the inbox, whatever the query says.
    for params in ({"phone": OWNER}, {"phone": OWNER, "key": connect.inbox_key(OWNER)}):
        page = await signed_in.get("/dashboard/connect", params=params)
        assert page.status_code == 200 and otp not in page.text, params
        fragment = await signed_in.get("/dashboard/connect/messages", params=params)
        assert otp not in fragment.text and 'name="message_id"' not in fragment.text, params
    for phone, key in (
        (OWNER, ""),
        (OWNER, connect.inbox_key("+201001187100")),
        (OWNER, connect.inbox_key(OWNER)[:-1] + "x"),
        (OWNER, "nope"),
        ("+201001187100", "nope"),
    ):
        refused = await open_inbox(signed_in, phone, key)
        assert refused.status_code == 422 and otp not in refused.text, (phone, key)
        assert "This inbox key does not open this phone number&#39;s inbox." in refused.text
    bad_phone = await open_inbox(signed_in, "12345", "nope")
    assert bad_phone.status_code == 422 and "E.164" in bad_phone.text
    # The owner, with the key: redirected to a URL without it, and the inbox shows the code.
    key = connect.inbox_key(OWNER)
    opened = await open_inbox(signed_in, OWNER, key)
    assert opened.status_code == 303 and key not in opened.headers["location"]
    page = await signed_in.get(opened.headers["location"])
    assert otp in page.text and key not in page.text
    fragment = await signed_in.get("/dashboard/connect/messages", params={"phone": OWNER})
    assert otp in fragment.text and key not in fragment.text
    # Signing out ends what the session had opened (also for whoever signs in next in this browser).
    await signed_in.post("/dashboard/logout", data={"_csrf": csrf_of(page.text)})
    assert (await log_in(signed_in, dashboard_user.email, dashboard_user.password)).status_code == 303
    again = await signed_in.get("/dashboard/connect/messages", params={"phone": OWNER})
    assert again.status_code == 200 and otp not in again.text


async def test_another_tenants_number_is_not_found(
    signed_in: httpx.AsyncClient, connect: ConnectHelper, make_tenant: MakeTenant, make_key: MakeKey
) -> None:
    other = await make_tenant("other")
    key = await make_key(other)
    await connect.account(OWNER, verified=True)
    created = await signed_in.post(
        "/api/v1/sender-numbers", json={"phone": OWNER}, headers={"X-Api-Key": key}
    )
    assert created.status_code == 201
    assert (await signed_in.get(f"/dashboard/sender-numbers/{created.json()['id']}")).status_code == 404


async def test_wrong_codes_lockout_is_explained_on_the_form(
    signed_in: httpx.AsyncClient, connect: ConnectHelper, frozen_clock: Clock
) -> None:
    # The dashboard goes through the same per-phone limits as the API (issue 12): 10 wrong codes in a day.
    await connect.account(OWNER, verified=True)
    detail_url = (await register(signed_in)).headers["location"]
    detail = await signed_in.get(detail_url)
    csrf = csrf_of(detail.text)
    for round_ in range(2):
        code = await connect.otp(OWNER)
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        for _ in range(5):
            last = await signed_in.post(detail_url + "/verify", data={"otp": wrong, "_csrf": csrf})
        if round_ == 0:
            assert "Too many wrong codes. Request a new one." in last.text
            frozen_clock.advance(seconds=61)
            assert (await signed_in.post(detail_url + "/resend", data={"_csrf": csrf})).status_code == 303
    assert last.status_code == 429
    assert "Too many wrong codes were entered for this phone today" in last.text
    assert "about 24 h" in last.text
    notice = await connect.last_message(OWNER)
    assert "acme" in (notice.content or "") and "too many wrong verification codes" in (notice.content or "")
    right = await signed_in.post(detail_url + "/verify", data={"otp": code, "_csrf": csrf})
    assert right.status_code == 429 and "Too many wrong codes were entered" in right.text
    resend = await signed_in.post(detail_url + "/resend", data={"_csrf": csrf})
    assert resend.status_code == 429 and "Too many wrong codes were entered" in resend.text


async def test_registration_over_the_phones_daily_cap_is_refused_on_the_form(
    signed_in: httpx.AsyncClient,
    connect: ConnectHelper,
    make_tenant: MakeTenant,
    make_key: MakeKey,
    runtime: Runtime,
    dashboard_user: DashboardUser,
) -> None:
    await connect.account(OWNER, verified=True)
    for i in range(10):  # ten other organizations already sent this phone an OTP today
        key = await make_key(await make_tenant(f"org{i}"))
        sent = await signed_in.post(
            "/api/v1/sender-numbers", json={"phone": OWNER}, headers={"X-Api-Key": key}
        )
        assert sent.status_code == 201
    page = await signed_in.get("/dashboard/sender-numbers")
    await signed_in.post("/dashboard/language", data={"lang": "ar", "_csrf": csrf_of(page.text)})
    refused = await register(signed_in)
    assert refused.status_code == 429
    assert "تلقى هذا الهاتف عددًا كبيرًا جدًا من رموز التحقق اليوم" in refused.text
    # Nothing half-written: the tenant has no sender number row at all.
    async with runtime.db.session_scope() as s:
        rows = await s.scalar(
            select(func.count())
            .select_from(SenderNumber)
            .where(SenderNumber.tenant_id == dashboard_user.tenant.id)
        )
    assert rows == 0
