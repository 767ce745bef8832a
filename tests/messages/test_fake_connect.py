"""The send and delivery paths need only the ConnectClient protocol: with a FakeConnect as the runtime's
client (after the sender was registered on the embedded network), a send is checked against the fake's
scripted reachability and handed to it once; its scripted refusals fail the message with their reason."""

from __future__ import annotations

from typing import Any

import httpx

from tests.fixtures.fake_connect import FakeConnect, use_fake_connect
from tests.messages.conftest import OWNER, RECIPIENT, wait_status
from tgo.channels.connect_types import ConnectRejected, ReasonCode
from tgo.runtime import Runtime

TEXT = {"sender_phone": OWNER, "to_phone": RECIPIENT, "type": "text", "content": "through the fake"}


async def test_a_send_is_looked_up_and_delivered_once_through_the_protocol(
    client: httpx.AsyncClient, headers: dict[str, str], sender: Any, runtime: Runtime
) -> None:
    fake = await use_fake_connect(runtime, FakeConnect())
    fake.add_account(RECIPIENT)
    r = await client.post("/api/v1/messages", json=TEXT, headers=headers)
    assert r.status_code == 201, r.text
    message_id = r.json()["id"]
    await wait_status(client, headers, message_id, "sent")
    assert fake.lookups == [(RECIPIENT, OWNER)]
    [sent] = fake.sent
    assert sent.business_message_id == f"msg-{message_id}"
    assert (sent.sender_phone, sent.to_phone, sent.type, sent.content) == (
        OWNER,
        RECIPIENT,
        "text",
        TEXT["content"],
    )
    assert sent.sender_name == sender["display_name"]


async def test_a_scripted_unreachable_recipient_is_refused_at_send(
    client: httpx.AsyncClient, headers: dict[str, str], sender: Any, runtime: Runtime
) -> None:
    fake = await use_fake_connect(runtime, FakeConnect())
    fake.add_account(RECIPIENT)
    fake.reach[RECIPIENT] = ReasonCode.BLOCKED_SENDER
    r = await client.post("/api/v1/messages", json=TEXT, headers=headers)
    assert r.status_code == 422 and r.json()["code"] == "recipient_unreachable", r.text
    assert r.json()["reason_code"] == "blocked_sender"
    assert fake.deliveries == 0


async def test_a_scripted_refusal_at_delivery_fails_the_message_with_its_reason(
    client: httpx.AsyncClient, headers: dict[str, str], sender: Any, runtime: Runtime
) -> None:
    fake = await use_fake_connect(runtime, FakeConnect())
    fake.add_account(RECIPIENT)
    fake.fail_next(ConnectRejected("account_disabled"))
    r = await client.post("/api/v1/messages", json=TEXT, headers=headers)
    assert r.status_code == 201, r.text
    failed = await wait_status(client, headers, r.json()["id"], "failed")
    assert failed["failure_code"] == "account_disabled"
    assert fake.deliveries == 1 and fake.sent == []
