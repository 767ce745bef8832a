"""A contact writes to a sender number on Connect (issue 18): Connect refuses what it must, the Business
side gets a conversation with the inbound message, the tenant's reply lands in the contact's inbox."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.conftest import MakeKey, MakeTenant
from tests.conversations.conftest import CONTACT, CONTACT_AR, OWNER, eventually
from tests.fixtures.connect import ConnectHelper
from tgo.channels.connect_api import ConnectInvalidRequest
from tgo.channels.connect_types import ConnectRejected
from tgo.runtime import Runtime


async def conversations(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> Any:
    r = await client.get("/api/v1/conversations", params=params, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()["data"]


async def test_a_reply_from_connect_opens_a_conversation_and_the_answer_reaches_the_phone(
    client: httpx.AsyncClient, headers: dict[str, str], connect: ConnectHelper, sender: Any
) -> None:
    sent = await connect.client.write(CONTACT, OWNER, content="Hello, is my order ready?")
    assert sent.to_phone == OWNER and sent.type == "text"
    found = await eventually(lambda: conversations(client, headers))
    [conv] = found
    assert conv["contact_phone"] == CONTACT and conv["sender_number_id"] == sender["id"]
    assert conv["unread_count"] == 1 and conv["opted_out"] is False
    assert conv["window_expires_at"] is not None and conv["last_inbound_at"] is not None

    msgs = (await client.get(f"/api/v1/conversations/{conv['id']}/messages", headers=headers)).json()["data"]
    [inbound] = msgs
    assert inbound["direction"] == "inbound" and inbound["from_phone"] == CONTACT
    assert inbound["content"] == "Hello, is my order ready?" and inbound["status"] == "received"
    assert inbound["received_at"] is not None

    listed = (await client.get("/api/v1/messages", params={"direction": "inbound"}, headers=headers)).json()
    assert [m["id"] for m in listed["data"]] == [inbound["id"]]

    # The reply is an ordinary send; it appears in the conversation and in the phone's inbox.
    r = await client.post(
        "/api/v1/messages",
        json={"sender_phone": OWNER, "to_phone": CONTACT, "type": "text", "content": "Yes, it ships today."},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["direction"] == "outbound" and r.json()["from_phone"] == OWNER

    async def in_inbox() -> bool:
        return any(m.content == "Yes, it ships today." for m in await connect.inbox(CONTACT))

    await eventually(in_inbox)
    both = (await client.get(f"/api/v1/conversations/{conv['id']}/messages", headers=headers)).json()["data"]
    assert [m["direction"] for m in both] == ["outbound", "inbound"]
    outbound_only = (
        await client.get("/api/v1/messages", params={"direction": "outbound"}, headers=headers)
    ).json()
    assert inbound["id"] not in [m["id"] for m in outbound_only["data"]]

    r = await client.post(f"/api/v1/conversations/{conv['id']}/read", headers=headers)
    assert r.status_code == 204
    assert (await client.get(f"/api/v1/conversations/{conv['id']}", headers=headers)).json()[
        "unread_count"
    ] == 0
    assert await conversations(client, headers, unread="true") == []


async def test_two_messages_count_two_unread_in_order(
    client: httpx.AsyncClient, headers: dict[str, str], connect: ConnectHelper, sender: Any
) -> None:
    for text in ("one", "two", "three"):
        await connect.client.write(CONTACT, OWNER, content=text)

    async def three() -> Any:
        convs = await conversations(client, headers, contact_phone=CONTACT)
        return convs if convs and convs[0]["unread_count"] == 3 else None

    [conv] = await eventually(three)
    msgs = (await client.get(f"/api/v1/conversations/{conv['id']}/messages", headers=headers)).json()["data"]
    assert [m["content"] for m in msgs] == ["three", "two", "one"]  # newest first, applied in order
    page = (
        await client.get(f"/api/v1/conversations/{conv['id']}/messages", params={"limit": 2}, headers=headers)
    ).json()
    assert [m["content"] for m in page["data"]] == ["three", "two"] and page["next_cursor"]
    rest = (
        await client.get(
            f"/api/v1/conversations/{conv['id']}/messages",
            params={"limit": 2, "cursor": page["next_cursor"]},
            headers=headers,
        )
    ).json()
    assert [m["content"] for m in rest["data"]] == ["one"] and rest["next_cursor"] is None


async def test_replies_written_together_share_a_commit_and_each_gets_its_own_answer(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    connect: ConnectHelper,
    runtime: Runtime,
    sender: Any,
) -> None:
    """Connect group-commits what accounts write: replies posted at once are stored in fewer transactions
    than replies, a refused one (no business's number, no account, a bad body) is refused alone with its
    own reason, and the others arrive in order per conversation."""
    stranger = "+201010000009"
    await connect.account(stranger, verified=True)
    batcher = runtime.embedded_connect.get().network.replies
    before = batcher.batches
    texts = [f"in order {i}" for i in range(12)]
    writes: list[Any] = [connect.client.write(CONTACT, OWNER, content=t) for t in texts]
    writes += [
        connect.client.write(CONTACT, stranger, content="to nobody's number"),
        connect.client.write("+201010000077", OWNER, content="from nobody"),
        connect.client.write(CONTACT_AR, OWNER, content="   "),
        connect.client.write(CONTACT_AR, OWNER, content="مرحبا"),
    ]
    results = await asyncio.gather(*writes, return_exceptions=True)
    accepted = [r for r in results if not isinstance(r, BaseException)]
    assert len(accepted) == 13 and len({m.id for m in accepted}) == 13
    assert [m.content for m in accepted[:12]] == texts
    assert isinstance(results[12], ConnectRejected) and results[12].reason_code == "not_a_business_number"
    assert isinstance(results[13], ConnectRejected) and results[13].reason_code == "account_not_found"
    assert isinstance(results[14], ConnectInvalidRequest) and "content" in results[14].errors
    assert 1 <= batcher.batches - before < 13

    async def all_applied() -> Any:
        convs = await conversations(client, headers)
        return convs if sum(c["unread_count"] for c in convs) == 13 else None

    convs = {c["contact_phone"]: c for c in await eventually(all_applied)}
    msgs = (
        await client.get(
            f"/api/v1/conversations/{convs[CONTACT]['id']}/messages", params={"limit": 50}, headers=headers
        )
    ).json()["data"]
    assert [m["content"] for m in reversed(msgs)] == texts


async def test_connect_refuses_a_message_to_a_phone_that_is_no_active_sender_number(
    connect: ConnectHelper, sender: Any
) -> None:
    stranger = "+201010000009"
    await connect.account(stranger, verified=True)
    with pytest.raises(ConnectRejected) as refused:
        await connect.client.write(CONTACT, stranger, content="Hi?")
    assert refused.value.reason_code == "not_a_business_number"
    assert stranger in str(refused.value)


async def test_connect_forgets_a_deleted_number(
    client: httpx.AsyncClient, headers: dict[str, str], connect: ConnectHelper, sender: Any
) -> None:
    await connect.client.write(CONTACT, OWNER, content="before")
    r = await client.delete(f"/api/v1/sender-numbers/{sender['id']}", headers=headers)
    assert r.status_code == 204, r.text
    with pytest.raises(ConnectRejected) as refused:
        await connect.client.write(CONTACT, OWNER, content="after")
    assert refused.value.reason_code == "not_a_business_number"


async def test_bad_writes_are_refused_with_their_field(connect: ConnectHelper, sender: Any) -> None:
    with pytest.raises(ConnectInvalidRequest) as too_long:
        await connect.client.write(CONTACT, OWNER, content="x" * 5000)
    assert "content" in too_long.value.errors
    with pytest.raises(ConnectInvalidRequest) as empty:
        await connect.client.write(CONTACT, OWNER, content="   ")
    assert "content" in empty.value.errors
    with pytest.raises(ConnectInvalidRequest) as nul:  # PostgreSQL text holds no NUL: refused, not a 500
        await connect.client.write(CONTACT, OWNER, content="nul \x00 inside")
    assert nul.value.errors["content"] == ["Must not contain NUL characters."]
    with pytest.raises(ConnectRejected) as nobody:
        await connect.client.write("+201010000077", OWNER, content="hi")
    assert nobody.value.reason_code == "account_not_found"


async def test_the_longest_text_arrives_whole(
    client: httpx.AsyncClient, headers: dict[str, str], connect: ConnectHelper, sender: Any
) -> None:
    text = "ي" * 4096
    await connect.client.write(CONTACT, OWNER, content=text)
    [conv] = await eventually(lambda: conversations(client, headers))
    [msg] = (await client.get(f"/api/v1/conversations/{conv['id']}/messages", headers=headers)).json()["data"]
    assert msg["content"] == text


async def test_another_tenants_conversation_is_a_missing_one(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    connect: ConnectHelper,
    sender: Any,
    make_tenant: MakeTenant,
    make_key: MakeKey,
) -> None:
    await connect.client.write(CONTACT, OWNER, content="hello")
    [conv] = await eventually(lambda: conversations(client, headers))
    other = {"X-Api-Key": await make_key(await make_tenant("other"))}
    for method, path in (
        ("GET", f"/api/v1/conversations/{conv['id']}"),
        ("GET", f"/api/v1/conversations/{conv['id']}/messages"),
        ("POST", f"/api/v1/conversations/{conv['id']}/read"),
    ):
        r = await client.request(method, path, headers=other)
        assert r.status_code == 404 and r.json()["code"] == "conversation_not_found", (path, r.text)
    assert await conversations(client, other) == []
    assert (await client.get("/api/v1/messages", params={"direction": "inbound"}, headers=other)).json()[
        "data"
    ] == []
