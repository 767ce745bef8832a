"""Webhooks pages: add an endpoint (secret shown once), deliveries with attempts, replay, pause, rotate,
delete (in process, SQLite and PostgreSQL; a real HTTP receiver)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.dashboard.conftest import SENDER, csrf_of
from tests.fixtures.connect import ConnectHelper
from tests.webhooks.receiver import Receiver


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver()
    await r.start()
    try:
        yield r
    finally:
        await r.stop()


async def test_endpoint_lifecycle_and_delivery_log(
    signed_in: httpx.AsyncClient, headers: dict[str, str], connect: ConnectHelper, receiver: Receiver
) -> None:
    page = await signed_in.get("/dashboard/webhooks")
    none_chosen = await signed_in.post(
        "/dashboard/webhooks", data={"url": receiver.url, "_csrf": csrf_of(page.text)}
    )
    assert none_chosen.status_code == 422
    assert "Choose at least one event." in none_chosen.text
    created = await signed_in.post(
        "/dashboard/webhooks",
        data={
            "url": receiver.url,
            "description": "orders service",
            "events": ["sender_number.status_changed", "message.delivered"],
            "_csrf": csrf_of(page.text),
        },
    )
    assert created.status_code == 201, created.text
    secret = re.search(r'id="new-secret"[^>]*value="([^"]+)"', created.text)
    assert secret and secret.group(1)
    listing = await signed_in.get("/dashboard/webhooks")
    assert receiver.url in listing.text and secret.group(1) not in listing.text
    webhook_id = int(re.search(r'data-webhook-id="(\d+)"', listing.text).group(1))  # type: ignore[union-attr]

    # An event: a sender number becomes active.
    await connect.account(SENDER, verified=True)
    number = (await signed_in.post("/api/v1/sender-numbers", json={"phone": SENDER}, headers=headers)).json()
    await signed_in.post(
        f"/api/v1/sender-numbers/{number['id']}/verify",
        json={"otp": await connect.otp(SENDER)},
        headers=headers,
    )
    detail = ""
    for _ in range(200):
        detail = (await signed_in.get(f"/dashboard/webhooks/{webhook_id}")).text
        if 'badge-good">Succeeded<' in detail:
            break
        await asyncio.sleep(0.05)
    assert 'badge-good">Succeeded<' in detail
    assert "sender_number.status_changed" in detail
    assert "HTTP 200" in detail
    delivery_id = re.search(r'data-delivery-id="(\d+)"', detail).group(1)  # type: ignore[union-attr]
    replayed = await signed_in.post(
        f"/dashboard/webhooks/{webhook_id}/deliveries/{delivery_id}/replay", data={"_csrf": csrf_of(detail)}
    )
    assert replayed.status_code == 303
    for _ in range(200):
        if len(receiver.delivered) >= 2:
            break
        await asyncio.sleep(0.05)
    assert len(receiver.delivered) == 2
    assert receiver.delivered[0].headers["webhook-id"] == receiver.delivered[1].headers["webhook-id"]

    paused = await signed_in.post(
        f"/dashboard/webhooks/{webhook_id}/active", data={"active": "false", "_csrf": csrf_of(detail)}
    )
    assert paused.status_code == 303
    assert 'badge-wait">Paused<' in (await signed_in.get(f"/dashboard/webhooks/{webhook_id}")).text
    await signed_in.post(
        f"/dashboard/webhooks/{webhook_id}/active", data={"active": "true", "_csrf": csrf_of(detail)}
    )
    rotated = await signed_in.post(
        f"/dashboard/webhooks/{webhook_id}/rotate", data={"_csrf": csrf_of(detail)}
    )
    new_secret = re.search(r'id="new-secret"[^>]*value="([^"]+)"', rotated.text)
    assert new_secret and new_secret.group(1) != secret.group(1)

    confirm = await signed_in.get(f"/dashboard/webhooks/{webhook_id}/delete")
    assert "Delete this endpoint?" in confirm.text
    deleted = await signed_in.post(
        f"/dashboard/webhooks/{webhook_id}/delete", data={"_csrf": csrf_of(confirm.text)}
    )
    assert deleted.status_code == 303
    assert "No webhook endpoints yet." in (await signed_in.get("/dashboard/webhooks")).text


async def test_a_refused_url_is_explained(signed_in: httpx.AsyncClient) -> None:
    page = await signed_in.get("/dashboard/webhooks")
    response = await signed_in.post(
        "/dashboard/webhooks",
        data={"url": "ftp://example.com/x", "events": ["message.read"], "_csrf": csrf_of(page.text)},
    )
    assert response.status_code == 422
    assert "must start with http:// or https://" in response.text


async def test_a_failed_replay_of_a_succeeded_delivery_is_its_own_outcome(
    signed_in: httpx.AsyncClient, headers: dict[str, str], connect: ConnectHelper, receiver: Receiver
) -> None:
    page = await signed_in.get("/dashboard/webhooks")
    created = await signed_in.post(
        "/dashboard/webhooks",
        data={"url": receiver.url, "events": ["sender_number.status_changed"], "_csrf": csrf_of(page.text)},
    )
    assert created.status_code == 201, created.text
    listing = await signed_in.get("/dashboard/webhooks")
    webhook_id = int(re.search(r'data-webhook-id="(\d+)"', listing.text).group(1))  # type: ignore[union-attr]
    await connect.account(SENDER, verified=True)
    number = (await signed_in.post("/api/v1/sender-numbers", json={"phone": SENDER}, headers=headers)).json()
    await signed_in.post(
        f"/api/v1/sender-numbers/{number['id']}/verify",
        json={"otp": await connect.otp(SENDER)},
        headers=headers,
    )
    detail = ""
    for _ in range(200):
        detail = (await signed_in.get(f"/dashboard/webhooks/{webhook_id}")).text
        if 'badge-good">Succeeded<' in detail:
            break
        await asyncio.sleep(0.05)
    delivery_id = re.search(r'data-delivery-id="(\d+)"', detail).group(1)  # type: ignore[union-attr]
    receiver.then(500)  # the replay is refused by the receiver
    replayed = await signed_in.post(
        f"/dashboard/webhooks/{webhook_id}/deliveries/{delivery_id}/replay", data={"_csrf": csrf_of(detail)}
    )
    assert replayed.status_code == 303
    for _ in range(200):
        detail = (await signed_in.get(f"/dashboard/webhooks/{webhook_id}")).text
        if 'data-run="replay" data-outcome="failed"' in detail:
            break
        await asyncio.sleep(0.05)
    # The first delivery still reads as succeeded (one attempt); the replay is a failed outcome of its own.
    assert 'data-run="original" data-outcome="succeeded"' in detail
    assert 'data-run="replay" data-outcome="failed"' in detail
    row = detail[detail.index(f'data-delivery-id="{delivery_id}"') :]
    last_result = re.search(r'<td [^>]*class="last-result">(.*?)</td>', row, re.S).group(1)  # type: ignore[union-attr]
    assert last_result.count("HTTP 500") == 1, last_result
