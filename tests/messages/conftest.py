from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.fixtures.connect import ConnectHelper
from tgo.config import Settings
from tgo.kit.clock import now
from tgo.messages.accept_batch import QueuedSend, write_queued
from tgo.messages.state import insert_queued
from tgo.models import Message, SenderNumber
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


def settings_with(db_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    """A test's settings: its database and data directory, the test secret, and ``overrides``."""
    return Settings(
        data_dir=tmp_path / "data",
        database_url=db_url,
        secret_key="test-secret-key-not-for-production",
        **overrides,
    )


def queued_values(sender_number_id: int, at: datetime, **fields: Any) -> dict[str, Any]:
    """The row of a queued text message from OWNER to RECIPIENT accepted at ``at`` and due then, as the send
    path writes it; ``fields`` replace any of its values."""
    return {
        "sender_number_id": sender_number_id,
        "sender_phone": OWNER,
        "to_phone": RECIPIENT,
        "message_type": "text",
        "content": "",
        "caption": None,
        "media_id": None,
        "duration": None,
        "status": "queued",
        "attempts": 0,
        "next_attempt_at": at,
        "queued_at": at,
        "updated_at": at,
        **fields,
    }


async def insert_without_job(
    session: AsyncSession, tenant_id: int, sender_number_id: int, at: datetime, content: str
) -> Message:
    """A message stored as queued at ``at`` through the state machine's first step, with no job published and
    its next attempt an hour away: nothing but the test moves it."""
    values = queued_values(sender_number_id, at, content=content, next_attempt_at=at + timedelta(hours=1))
    return await insert_queued(session, tenant_id, values, None)


async def queue_unpublished(runtime: Runtime, sender: dict[str, Any], recipients: list[str]) -> list[int]:
    """Queued messages from ``sender`` to each of ``recipients``, written as the send path's group commit
    writes them (one batch) but without its delivery job — as if the publish was lost: no worker moves them
    until a test delivers them (or the sweeper re-publishes them). Their ids, in order."""
    at = now()
    async with runtime.db.session_scope() as s:
        tenant_id = int(
            await s.scalar(select(SenderNumber.tenant_id).where(SenderNumber.id == sender["id"])) or 0
        )
        items = [
            QueuedSend(
                tenant_id, queued_values(sender["id"], at, to_phone=to, content=f"m{i}"), interested=True
            )
            for i, to in enumerate(recipients)
        ]
        accepted = await write_queued(s, items)
        s.info.pop("after_commit", None)  # the lost publish
    return [a.message.id for a in accepted]
