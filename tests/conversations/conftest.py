from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from tests.fixtures.connect import ConnectHelper
from tgo.runtime import Runtime

OWNER = "+201001187188"  # the business's sender number (its owner's Connect account)
CONTACT = "+201010000000"  # a customer on Connect
CONTACT_AR = "+201010000001"  # a customer whose Connect account is in Arabic


@pytest.fixture
def connect(runtime: Runtime) -> ConnectHelper:
    return ConnectHelper(runtime)


@pytest.fixture
async def sender(client: httpx.AsyncClient, headers: dict[str, str], connect: ConnectHelper) -> Any:
    """An active sender number (so Connect links it) and two contacts with Connect accounts."""
    await connect.account(OWNER, verified=True)
    await connect.account(CONTACT, verified=True)
    await connect.account(CONTACT_AR, verified=True, lang="ar")
    num = (
        await client.post(
            "/api/v1/sender-numbers", json={"phone": OWNER, "display_name": "Support"}, headers=headers
        )
    ).json()
    r = await client.post(
        f"/api/v1/sender-numbers/{num['id']}/verify", json={"otp": await connect.otp(OWNER)}, headers=headers
    )
    assert r.json()["status"] == "active", r.text
    return r.json()


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 10.0) -> Any:
    """Poll ``check`` until it returns something truthy (the event pump works in the background)."""
    result: Any = None
    for _ in range(int(timeout / 0.05)):
        result = await check()
        if result:
            return result
        await asyncio.sleep(0.05)
    raise AssertionError(f"never happened; last: {result!r}")
