"""Helpers shared by the SMS tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

SEED_REQUEST = {
    "name": "Acme Alerts",
    "senderId": "AcmeAlerts",
    "senderType": "alphanumeric_id",
    "country": "AU",
    "defaultMessageType": "transactional",
}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 10.0, every: float = 0.05) -> Any:
    """Poll ``check`` until it returns something truthy; fail with the last value after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(every)
    raise AssertionError(f"condition not reached in {timeout}s; last value {last!r}")


async def create_sender(
    client: httpx.AsyncClient, headers: dict[str, str], **overrides: Any
) -> dict[str, Any]:
    r = await client.post("/v1/sms/senders", json={**SEED_REQUEST, **overrides}, headers=headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def sender_status(client: httpx.AsyncClient, headers: dict[str, str], sender_id: str) -> dict[str, Any]:
    r = await client.get(f"/v1/sms/senders/{sender_id}", headers=headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def verified_sender(
    client: httpx.AsyncClient, headers: dict[str, str], expect: str = "active", **overrides: Any
) -> dict[str, Any]:
    """A sender taken through verification by the sandbox carrier, waited for until it settles."""
    sender = await create_sender(client, headers, **overrides)
    r = await client.post(f"/v1/sms/senders/{sender['id']}/verify", headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "pending"

    async def settled() -> dict[str, Any] | None:
        body = await sender_status(client, headers, sender["id"])
        return body if body["status"] != "pending" else None

    body = await eventually(settled)
    assert body["status"] == expect, body
    return dict(body)


async def message_status(
    client: httpx.AsyncClient, headers: dict[str, str], message_id: str
) -> dict[str, Any]:
    r = await client.get(f"/v1/sms/messages/{message_id}", headers=headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def wait_message(
    client: httpx.AsyncClient, headers: dict[str, str], message_id: str, *statuses: str, timeout: float = 10.0
) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        body = await message_status(client, headers, message_id)
        return body if body["status"] in statuses else None

    return dict(await eventually(done, timeout))


async def verified_senders(
    client: httpx.AsyncClient, headers: dict[str, str], variants: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Several senders verified at once (one carrier delay for all), in the order of ``variants``."""
    created = [await create_sender(client, headers, **v) for v in variants]
    for sender in created:
        r = await client.post(f"/v1/sms/senders/{sender['id']}/verify", headers=headers)
        assert r.status_code == 200, r.text

    async def settled() -> list[dict[str, Any]] | None:
        bodies = [await sender_status(client, headers, s["id"]) for s in created]
        return bodies if all(b["status"] != "pending" for b in bodies) else None

    return list(await eventually(settled))
