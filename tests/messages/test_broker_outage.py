"""A broker that stops answering (RabbitMQ behind a frozen network path: no error, no reply) must not hold
the API: the message is accepted within TGO_PUBLISH_TIMEOUT_SECONDS, stays queued, and is delivered once
the path thaws (its job re-published by the sweeper; a job that was in flight too is harmless: delivery
is idempotent). Shutting down with the path frozen ends within TGO_SHUTDOWN_TIMEOUT_SECONDS."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.fixtures.amqp import delete_queues, queue_name
from tests.fixtures.connect import ConnectHelper
from tests.fixtures.tcp import FreezableRelay
from tests.messages.conftest import OWNER, RECIPIENT, wait_status
from tgo.config import Settings
from tgo.wiring import build_runtime

PUBLISH_TIMEOUT = 0.5


@pytest.fixture
async def relay() -> AsyncIterator[FreezableRelay]:
    relay = FreezableRelay("127.0.0.1", 5672)
    await relay.start()
    yield relay
    await relay.stop()


@pytest.fixture
async def settings(settings: Settings, relay: FreezableRelay) -> AsyncIterator[Settings]:
    queue = queue_name("tgo-test-outage")
    yield settings.model_copy(
        update={
            "broker_url": f"amqp://guest:guest@127.0.0.1:{relay.port}/",
            "queue_name": queue,
            "run_workers": True,
            "publish_timeout_seconds": PUBLISH_TIMEOUT,
            "shutdown_timeout_seconds": 2.0,
            "sweeper_interval_seconds": 0.2,
            "sweeper_stale_seconds": 1.0,
        }
    )
    await delete_queues(queue)


def text(content: str) -> dict[str, Any]:
    return {"sender_phone": OWNER, "to_phone": RECIPIENT, "type": "text", "content": content}


@pytest.mark.postgres_only
async def test_a_frozen_broker_neither_holds_the_request_nor_loses_the_message(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    sender: dict[str, Any],
    connect: ConnectHelper,
    relay: FreezableRelay,
) -> None:
    r = await client.post("/api/v1/messages", json=text("before"), headers=headers)
    assert r.status_code == 201, r.text
    await wait_status(client, headers, r.json()["id"], "delivered", timeout=20)

    relay.freeze()
    started = time.monotonic()
    r = await client.post("/api/v1/messages", json=text("during"), headers=headers)
    took = time.monotonic() - started
    assert r.status_code == 201, r.text
    assert took < PUBLISH_TIMEOUT + 2.0, f"the request waited {took:.1f}s for the broker"
    during = r.json()["id"]
    await asyncio.sleep(1.0)
    assert (await client.get(f"/api/v1/messages/{during}", headers=headers)).json()["status"] == "queued"

    relay.thaw()
    await wait_status(client, headers, during, "delivered", timeout=30)
    contents = [m.content for m in await connect.inbox(RECIPIENT)]
    assert contents.count("during") == 1 and contents.count("before") == 1, contents


@pytest.mark.postgres_only
async def test_shutdown_with_a_frozen_broker_ends_in_bounded_time(
    settings: Settings, relay: FreezableRelay
) -> None:
    runtime = build_runtime(settings)
    await runtime.start()  # in-process consumer and sweepers on RabbitMQ through the relay
    await asyncio.sleep(1.0)  # the consumer is connected and listening
    assert relay.connections >= 1
    relay.freeze()
    started = time.monotonic()
    await asyncio.wait_for(runtime.close(), 30)
    took = time.monotonic() - started
    # Each shutdown hook may take at most shutdown_timeout_seconds (2 s); there are a handful of them.
    assert took < 10, f"shutdown took {took:.1f}s"
    relay.thaw()
