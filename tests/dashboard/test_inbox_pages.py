"""The dashboard's Inbox and opt-out list (issue 18): conversations with unread badges and the reply window,
a thread with both directions and media previews, replies (text and a file) through the API's own rules,
refreshable fragments, and the opt-out list (add, remove, source, when) — in English and Arabic."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.dashboard.conftest import RECIPIENT, SENDER, csrf_of, png
from tests.fixtures.connect import ConnectHelper


async def written(
    connect: ConnectHelper, client: httpx.AsyncClient, headers: dict[str, str], *texts: str
) -> int:
    """The contact writes to the active number; returns the conversation id once it is there."""
    await connect.set_verified(RECIPIENT, True)
    for text in texts:
        await connect.client.write(RECIPIENT, SENDER, content=text)
    for _ in range(200):
        data = (await client.get("/api/v1/conversations", headers=headers)).json()["data"]
        if data and data[0]["unread_count"] == len(texts):
            return int(data[0]["id"])
        await asyncio.sleep(0.05)
    raise AssertionError("the conversation never appeared")


async def test_the_inbox_lists_threads_and_replies(
    signed_in: httpx.AsyncClient, headers: dict[str, str], connect: ConnectHelper, active_sender: int
) -> None:
    client = signed_in
    conversation_id = await written(connect, client, headers, "Hello?", "Anyone there?")
    page = await client.get("/dashboard/inbox")
    assert page.status_code == 200
    assert f'data-conversation-id="{conversation_id}"' in page.text and "2 unread" in page.text
    assert "Reply window:" in page.text and 'hx-trigger="every 5s"' in page.text
    fragment = await client.get("/dashboard/inbox/list?unread=1")
    assert fragment.status_code == 200 and "<html" not in fragment.text and "2 unread" in fragment.text

    thread = await client.get(f"/dashboard/inbox/{conversation_id}")
    assert thread.status_code == 200
    assert (
        "Hello?" in thread.text
        and "Anyone there?" in thread.text
        and 'data-direction="inbound"' in thread.text
    )
    # Opening it marked it read.
    assert (await client.get(f"/api/v1/conversations/{conversation_id}", headers=headers)).json()[
        "unread_count"
    ] == 0

    csrf = csrf_of(thread.text)
    sent = await client.post(
        f"/dashboard/inbox/{conversation_id}/reply", data={"_csrf": csrf, "content": "Yes, how can we help?"}
    )
    assert sent.status_code == 303, sent.text
    photo = await client.post(
        f"/dashboard/inbox/{conversation_id}/reply",
        data={"_csrf": csrf, "content": "our shelf"},
        files={"media": ("shelf.png", png(), "image/png")},
    )
    assert photo.status_code == 303, photo.text
    thread = await client.get(f"/dashboard/inbox/{conversation_id}/thread")
    assert "Yes, how can we help?" in thread.text and 'data-direction="outbound"' in thread.text
    assert 'class="media-preview"' in thread.text and "our shelf" in thread.text
    msgs: list[Any] = (
        await client.get(f"/api/v1/conversations/{conversation_id}/messages", headers=headers)
    ).json()["data"]
    assert [m["direction"] for m in msgs] == ["outbound", "outbound", "inbound", "inbound"]
    assert msgs[0]["message_type"] == "image"

    # Empty reply: the send's own error, beside the form; nothing sent.
    empty = await client.post(
        f"/dashboard/inbox/{conversation_id}/reply", data={"_csrf": csrf, "content": " "}
    )
    assert empty.status_code == 422 and 'id="form-errors"' in empty.text


async def test_another_tenants_conversation_is_not_found(
    signed_in: httpx.AsyncClient, active_sender: int
) -> None:
    assert (await signed_in.get("/dashboard/inbox/999999")).status_code == 404


async def test_the_opt_out_list_page(
    signed_in: httpx.AsyncClient, headers: dict[str, str], connect: ConnectHelper, active_sender: int
) -> None:
    client = signed_in
    await written(connect, client, headers, "STOP")
    for _ in range(100):
        if (await client.get("/api/v1/opt-outs", headers=headers)).json()["data"]:
            break
        await asyncio.sleep(0.05)
    page = await client.get("/dashboard/opt-outs")
    assert page.status_code == 200 and "They sent a keyword" in page.text
    csrf = csrf_of(page.text)
    added = await client.post(
        "/dashboard/opt-outs", data={"_csrf": csrf, "phone": "+201010000077", "channel": "sms"}
    )
    assert added.status_code == 303
    bad = await client.post("/dashboard/opt-outs", data={"_csrf": csrf, "phone": "12", "channel": "connect"})
    assert bad.status_code == 422 and 'id="form-errors"' in bad.text
    entries = (await client.get("/api/v1/opt-outs", headers=headers)).json()["data"]
    assert {(e["phone"], e["channel"], e["source"]) for e in entries} == {
        (RECIPIENT, "connect", "keyword"),
        ("+201010000077", "sms", "dashboard"),
    }
    removed = await client.post(
        "/dashboard/opt-outs/remove", data={"_csrf": csrf, "phone": RECIPIENT, "channel": "connect"}
    )
    assert removed.status_code == 303
    assert [e["phone"] for e in (await client.get("/api/v1/opt-outs", headers=headers)).json()["data"]] == [
        "+201010000077"
    ]
