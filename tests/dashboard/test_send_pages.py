"""Sending from the dashboard (/dashboard/messages/new): the API's send and rules, the recipient check as it
is typed, the result linked to its message page (in process, SQLite and PostgreSQL)."""

from __future__ import annotations

import re

import httpx

from tests.conftest import MakeTenant
from tests.dashboard.conftest import RECIPIENT, SENDER, assert_beside, csrf_of, log_in, png, wait_status
from tests.fixtures.connect import ConnectHelper


async def send(
    client: httpx.AsyncClient,
    files: dict[str, tuple[str, bytes] | tuple[str, bytes, str]] | None = None,
    **fields: object,
) -> httpx.Response:
    page = await client.get("/dashboard/messages/new")
    data = {"type": "text", **fields, "_csrf": csrf_of(page.text)}
    return await client.post("/dashboard/messages/new", data=data, files=files or {"media": ("", b"")})


async def test_send_text_then_follow_it_to_delivered(
    signed_in: httpx.AsyncClient, headers: dict[str, str], active_sender: int
) -> None:
    page = await signed_in.get("/dashboard/messages/new")
    assert page.status_code == 200
    assert f'<option value="{active_sender}"' in page.text
    sent = await send(
        signed_in, sender_number_id=active_sender, to_phone=RECIPIENT, content="مرحبا from the dashboard"
    )
    assert sent.status_code == 303, sent.text
    location = sent.headers["location"]
    message_id = int(re.fullmatch(r"/dashboard/messages/(\d+)", location).group(1))  # type: ignore[union-attr]
    shown = await signed_in.get(location)
    assert f"Message {message_id} was accepted" in shown.text
    assert "مرحبا from the dashboard" in shown.text
    await wait_status(signed_in, headers, message_id, "delivered")
    api = (await signed_in.get(f"/api/v1/messages/{message_id}", headers=headers)).json()
    assert api["sender_number_id"] == active_sender and api["to_phone"] == RECIPIENT
    assert api["content"] == "مرحبا from the dashboard"
    assert 'id="message-status">Delivered<' in (await signed_in.get(location)).text


async def test_send_an_image_with_a_caption(
    signed_in: httpx.AsyncClient, headers: dict[str, str], active_sender: int
) -> None:
    sent = await send(
        signed_in,
        files={"media": ("square.png", png(), "image/png")},
        sender_number_id=active_sender,
        to_phone=RECIPIENT,
        type="image",
        caption="red square",
    )
    assert sent.status_code == 303, sent.text
    detail = await signed_in.get(sent.headers["location"])
    assert re.search(r'<img src="/dashboard/media/\d+"', detail.text)
    assert "red square" in detail.text


async def test_the_api_rules_and_errors_apply(
    signed_in: httpx.AsyncClient, active_sender: int, connect: ConnectHelper
) -> None:
    empty = await send(signed_in, sender_number_id=active_sender, to_phone=RECIPIENT, content="")
    assert empty.status_code == 422
    assert "Text messages need content" in empty.text
    bad_phone = await send(signed_in, sender_number_id=active_sender, to_phone="12", content="hi")
    assert bad_phone.status_code == 422
    assert 'value="12"' in bad_phone.text  # the form is kept
    assert_beside(bad_phone.text, "send-to", "to-phone-error", "recipient as a valid phone number")
    nobody = await send(signed_in, sender_number_id=active_sender, to_phone="+201001187777", content="hi")
    assert nobody.status_code == 422
    assert "reason: not_found" in nobody.text
    assert_beside(nobody.text, "send-to", "to-phone-error", "reason: not_found")
    voice = await send(
        signed_in,
        files={"media": ("square.png", png(), "image/png")},
        sender_number_id=active_sender,
        to_phone=RECIPIENT,
        type="voice",
    )
    assert voice.status_code == 422 and "duration" in voice.text
    assert_beside(voice.text, "send-duration", "duration-error", "Voice messages need duration")
    assert "No messages match." in (await signed_in.get("/dashboard/messages")).text  # nothing half-written


async def test_recipient_check_as_it_is_typed(signed_in: httpx.AsyncClient, active_sender: int) -> None:
    def check(to: str) -> dict[str, str]:
        return {"to_phone": to, "sender_number_id": str(active_sender)}

    ok = await signed_in.get("/dashboard/messages/new/recipient", params=check(RECIPIENT))
    assert ok.status_code == 200
    assert 'data-state="good"' in ok.text and "Can receive messages" in ok.text
    missing = await signed_in.get("/dashboard/messages/new/recipient", params=check("+201001187777"))
    assert 'data-state="bad"' in missing.text and "No TGO Connect account has this number" in missing.text
    invalid = await signed_in.get("/dashboard/messages/new/recipient", params=check("+20"))
    assert 'data-state="bad"' in invalid.text and "Not a valid phone number yet" in invalid.text
    blank = await signed_in.get("/dashboard/messages/new/recipient", params=check(""))
    assert 'data-state="none"' in blank.text
    await to_arabic(signed_in)
    arabic = await signed_in.get("/dashboard/messages/new/recipient", params=check(RECIPIENT))
    assert "يمكنه استلام الرسائل" in arabic.text
    page = await signed_in.get("/dashboard/messages/new")
    assert "إرسال رسالة" in page.text and 'dir="rtl"' in page.text


async def to_arabic(client: httpx.AsyncClient) -> None:
    page = await client.get("/dashboard/messages")
    switched = await client.post(
        "/dashboard/language", data={"lang": "ar", "next": "/dashboard/", "_csrf": csrf_of(page.text)}
    )
    assert switched.status_code == 303


async def test_linked_from_messages_and_from_each_sender_number(
    signed_in: httpx.AsyncClient, active_sender: int
) -> None:
    log = await signed_in.get("/dashboard/messages")
    assert 'href="/dashboard/messages/new"' in log.text
    numbers = await signed_in.get("/dashboard/sender-numbers")
    assert f'href="/dashboard/messages/new?sender={active_sender}"' in numbers.text
    detail = await signed_in.get(f"/dashboard/sender-numbers/{active_sender}")
    assert f'href="/dashboard/messages/new?sender={active_sender}"' in detail.text
    chosen = await signed_in.get(f"/dashboard/messages/new?sender={active_sender}")
    assert f'<option value="{active_sender}" dir="ltr" selected>' in chosen.text


async def test_another_tenants_sender_cannot_be_used(
    signed_in: httpx.AsyncClient, active_sender: int, make_tenant: MakeTenant
) -> None:
    other = await make_tenant("other")
    from tgo.users.service import create_user

    runtime = signed_in._transport.app.state.runtime  # type: ignore[attr-defined]
    async with runtime.db.session_scope() as session:
        await create_user(session, other.id, email="someone@other.example", password="password-other")
    signed_in.cookies.clear()
    await log_in(signed_in, "someone@other.example", "password-other")
    page = await signed_in.get("/dashboard/messages/new")
    assert f'<option value="{active_sender}"' not in page.text
    assert 'id="no-sender"' in page.text
    refused = await signed_in.post(
        "/dashboard/messages/new",
        data={
            "type": "text",
            "sender_number_id": str(active_sender),
            "to_phone": RECIPIENT,
            "content": "hi",
            "_csrf": csrf_of(page.text),
        },
        files={"media": ("", b"")},
    )
    assert refused.status_code == 422
    assert "sender" in refused.text.lower()
    assert SENDER not in refused.text
