from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.fixtures.connect import ConnectHelper
from tgo.kit.clock import now
from tgo.messages.accept_batch import QueuedSend, write_queued
from tgo.models import SenderNumber
from tgo.runtime import Runtime

OWNER = "+201001187188"
RECIPIENT = "+201010000000"


@pytest.fixture
def connect(runtime: Runtime) -> ConnectHelper:
    return ConnectHelper(runtime)


@pytest.fixture
async def sender(client: httpx.AsyncClient, headers: dict[str, str], connect: ConnectHelper) -> Any:
    """The seed's sender number, active and verified, plus a reachable recipient."""
    await connect.account(OWNER, verified=True, lang="ar")
    await connect.account(RECIPIENT, verified=True)
    num = (
        await client.post(
            "/api/v1/sender-numbers", json={"phone": OWNER, "display_name": "Support"}, headers=headers
        )
    ).json()
    r = await client.post(
        f"/api/v1/sender-numbers/{num['id']}/verify", json={"otp": await connect.otp(OWNER)}, headers=headers
    )
    assert r.json()["can_send"] is True, r.text
    return r.json()


async def wait_status(
    client: httpx.AsyncClient, headers: dict[str, str], message_id: int, status: str, timeout: float = 10.0
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for _ in range(int(timeout / 0.05)):
        body = (await client.get(f"/api/v1/messages/{message_id}", headers=headers)).json()
        if body.get("status") == status:
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"message {message_id} is {body.get('status')}, never {status}: {body}")


async def queue_unpublished(runtime: Runtime, sender: dict[str, Any], recipients: list[str]) -> list[int]:
    """Queued messages from ``sender`` to each of ``recipients``, written as the send path's group commit
    writes them (one batch) but without its delivery job — as if the publish was lost: no worker moves them
    until a test delivers them (or the sweeper re-publishes them). Their ids, in order."""
    at = now()
    async with runtime.db.session_scope() as s:
        tenant_id = int(
            await s.scalar(select(SenderNumber.tenant_id).where(SenderNumber.id == sender["id"])) or 0
        )
        values = {
            "sender_number_id": sender["id"],
            "sender_phone": OWNER,
            "message_type": "text",
            "caption": None,
            "media_id": None,
            "duration": None,
            "status": "queued",
            "attempts": 0,
            "next_attempt_at": at,
            "queued_at": at,
            "updated_at": at,
        }
        items = [
            QueuedSend(tenant_id, {**values, "to_phone": to, "content": f"m{i}"}, interested=True)
            for i, to in enumerate(recipients)
        ]
        messages = await write_queued(s, items)
        s.info.pop("after_commit", None)  # the lost publish
    return [m.id for m in messages]
