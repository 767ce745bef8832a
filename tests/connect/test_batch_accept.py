"""POST /connect/v1/messages:batch through ConnectClient.deliver_batch against the embedded reference network:
one result per message in order, idempotent per business message id (across batches and within one), a
refused recipient refused alone with its reason code, bounded size, one event per accepted message."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import httpx
import pytest

from tgo.channels.connect import ConnectInvalidRequest
from tgo.channels.connect_admin import ConnectAdminClient
from tgo.channels.connect_protocol import api_token
from tgo.channels.connect_types import (
    EVENT_MESSAGE_DELIVERED,
    MAX_BATCH_MESSAGES,
    ConnectRejected,
    ConnectUnavailable,
    OutboundMessage,
    SendResult,
)
from tgo.runtime import Runtime

RECIPIENT = "+201010000000"
OTHER = "+201010000001"
SENDER = "+201001187190"


def text(bid: str, to: str = RECIPIENT, kind: str = "text") -> OutboundMessage:
    return OutboundMessage(
        business_message_id=bid, sender_phone=SENDER, sender_name="Acme", to_phone=to, type=kind, content="hi"
    )


def accepted(outcome: SendResult | ConnectRejected) -> SendResult:
    assert isinstance(outcome, SendResult), outcome
    return outcome


async def test_a_batch_is_accepted_once_per_id_and_refusals_carry_their_reason(runtime: Runtime) -> None:
    c = ConnectAdminClient.of(runtime.connect.get())
    await c.create_account(RECIPIENT)
    await c.create_account(OTHER)
    await c.block(OTHER, SENDER)
    first = await c.deliver(text("b:0"))  # accepted earlier by the single route
    batch = [
        text("b:1"),
        text("b:0"),  # a retry of an accepted id
        text("b:2", to="+201010000009"),  # no such account
        text("b:3", to=OTHER),  # blocked the sender
        text("b:4", to=OTHER, kind="system"),  # a platform message: the block does not apply
        text("b:1"),  # the same id twice in one batch
        text("b:5", to="+2"),  # malformed: refused alone
    ]
    out = await c.deliver_batch(batch)
    assert len(out) == len(batch)
    one = accepted(out[0])
    assert not one.duplicate
    again = accepted(out[1])
    assert again.duplicate and again.connect_message_id == first.connect_message_id
    assert isinstance(out[2], ConnectRejected) and out[2].reason_code == "not_found"
    assert isinstance(out[3], ConnectRejected) and out[3].reason_code == "blocked_sender"
    assert not accepted(out[4]).duplicate
    twice = accepted(out[5])
    assert twice.duplicate and twice.connect_message_id == one.connect_message_id
    assert isinstance(out[6], ConnectRejected) and out[6].reason_code == "validation_failed"
    assert sorted(m.business_message_id for m in await c.inbox(RECIPIENT)) == ["b:0", "b:1"]
    assert [m.business_message_id for m in await c.inbox(OTHER)] == ["b:4"]
    assert await c.attempts("b:1") == 2 and await c.attempts("b:2") == 1 and await c.attempts("b:0") == 2

    # The whole batch again: nothing new in any inbox, every accepted one a duplicate with its first id.
    replay = await c.deliver_batch(batch)
    assert accepted(replay[0]).connect_message_id == one.connect_message_id and accepted(replay[0]).duplicate
    assert accepted(replay[4]).duplicate
    assert len(await c.inbox(RECIPIENT)) == 2 and len(await c.inbox(OTHER)) == 1

    # One message.delivered event per accepted message (b:0 came from the single route, its own event).
    net = runtime.embedded_connect.get().network
    from sqlalchemy import select

    from tgo.connect_network.models import ConnectEventRow

    async with net.db.session_scope() as s:
        delivered = [
            e.data["business_message_id"]
            for e in await s.scalars(
                select(ConnectEventRow).where(ConnectEventRow.type == EVENT_MESSAGE_DELIVERED)
            )
        ]
    assert sorted(delivered) == ["b:0", "b:1", "b:4"]


async def test_concurrent_batches_of_the_same_ids_accept_each_once(runtime: Runtime) -> None:
    c = ConnectAdminClient.of(runtime.connect.get())
    await c.create_account(RECIPIENT)
    batch = [text(f"c:{i}") for i in range(20)]
    outs = await asyncio.gather(*(c.deliver_batch(batch) for _ in range(4)))
    for i in range(20):
        ids = {accepted(out[i]).connect_message_id for out in outs}
        assert len(ids) == 1
        assert sum(not accepted(out[i]).duplicate for out in outs) == 1
    assert len(await c.inbox(RECIPIENT, 200)) == 20


async def test_a_batch_is_bounded_and_a_scripted_outage_fails_all_of_it(runtime: Runtime) -> None:
    c = ConnectAdminClient.of(runtime.connect.get())
    await c.create_account(RECIPIENT)
    token = api_token(runtime.settings.secret())
    too_many = {"messages": [{**_body(f"t:{i}")} for i in range(MAX_BATCH_MESSAGES + 1)]}
    empty: dict[str, list[object]] = {"messages": []}
    app = runtime.embedded_connect.get().app
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=cast(Any, app)), base_url="http://connect.internal"
    ) as http:
        for body in (too_many, empty):
            r = await http.post(
                "/connect/v1/messages:batch", json=body, headers={"authorization": f"Bearer {token}"}
            )
            assert r.status_code == 422 and r.json()["code"] == "validation_failed", r.text
        r = await http.post("/connect/v1/messages:batch", json={"messages": [_body("t:x")]})
        assert r.status_code == 401
    assert await c.inbox(RECIPIENT) == []

    await c.fail_next_messages(1)
    with pytest.raises(ConnectUnavailable):
        await c.deliver_batch([text("f:1"), text("f:2")])
    assert await c.inbox(RECIPIENT) == []
    out = await c.deliver_batch([text("f:1"), text("f:2")])
    assert not accepted(out[0]).duplicate and not accepted(out[1]).duplicate
    assert await c.attempts("f:1") == 2
    # More than one request's worth: the client splits it, every message has its result.
    many = [text(f"m:{i}") for i in range(MAX_BATCH_MESSAGES + 3)]
    assert all(not accepted(o).duplicate for o in await c.deliver_batch(many))
    with pytest.raises(ConnectInvalidRequest):
        await c.fail_next_messages(1, status=200)


def _body(bid: str) -> dict[str, str]:
    return {
        "business_message_id": bid,
        "sender_phone": SENDER,
        "sender_name": "Acme",
        "to_phone": RECIPIENT,
        "type": "text",
        "content": "hi",
    }


async def test_a_network_without_the_batch_route_gets_each_message_alone() -> None:
    """An older Connect answers the batch route 404: the client hands each message to the single route."""
    from tgo.channels.connect import ConnectClient

    paths: list[str] = []

    async def older_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                head = (await reader.readuntil(b"\r\n\r\n")).decode()
            except (asyncio.IncompleteReadError, ConnectionError):
                break
            length = next(
                (
                    int(line.split(":")[1])
                    for line in head.split("\r\n")
                    if line.lower().startswith("content-length")
                ),
                0,
            )
            await reader.readexactly(length)
            path = head.split(" ")[1]
            paths.append(path)
            if path.endswith(":batch"):
                status, body = "404 Not Found", b'{"status_code":404,"detail":"Not Found"}'
            else:
                n = len(paths)
                status = "201 Created"
                body = b'{"connect_message_id":%d,"accepted_at":"2026-12-01T00:00:00Z","duplicate":false}' % n
            writer.write(
                f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(older_connect, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = ConnectClient.over_http(f"http://127.0.0.1:{port}", b"s" * 40, timeout=5)
    try:
        out = await client.deliver_batch([text("o:1"), text("o:2")])
    finally:
        await client.aclose()
        server.close()
    assert [accepted(o).connect_message_id for o in out] == [2, 3]
    assert paths == ["/connect/v1/messages:batch", "/connect/v1/messages", "/connect/v1/messages"]
