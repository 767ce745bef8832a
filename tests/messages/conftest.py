from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.fixtures.connect import ConnectHelper
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
