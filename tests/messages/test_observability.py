"""A send and its delivery in the metrics and the logs (in process, memory broker): the counters move once
each, and the accept's log line and every delivery line share the request id and name the message."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from tests.fixtures.connect import SwitchableConnect, switchable_runtime
from tests.messages.conftest import OWNER, RECIPIENT, insert_without_job, settings_with, wait_status
from tgo.config import Settings
from tgo.runtime import Runtime


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return settings_with(
        db_url,
        tmp_path,
        delivery_retry_base_seconds=0.05,
        delivery_retry_max_seconds=0.2,
        sweeper_interval_seconds=0.1,
        sweeper_stale_seconds=0.5,
        connect_timeout_seconds=1.0,
        log_level="INFO",  # the tests' default is WARNING; these read the info lines
    )


@pytest.fixture
def switch(settings: Settings) -> SwitchableConnect:
    return SwitchableConnect(settings)


@pytest.fixture
async def runtime(settings: Settings, switch: SwitchableConnect) -> AsyncIterator[Runtime]:
    async with switchable_runtime(settings, switch) as rt:
        yield rt


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


SERIES = {
    "accepted": ("tgo_messages_accepted_total", {}),
    "sent": ("tgo_messages_sent_total", {}),
    "delivered": ("tgo_messages_delivered_total", {}),
    "attempts_sent": ("tgo_message_delivery_attempts_total", {"outcome": "sent"}),
    "latency_count": ("tgo_message_accept_to_delivered_seconds_count", {}),
    "failed_not_found": ("tgo_messages_failed_total", {"failure_code": "not_found"}),
}


def snapshot() -> dict[str, float]:
    return {key: sample(name, **labels) for key, (name, labels) in SERIES.items()}


async def test_a_delivered_send_moves_each_counter_once(
    client: httpx.AsyncClient, headers: dict[str, str], sender: Any
) -> None:
    before = snapshot()
    r = await client.post(
        "/api/v1/messages",
        headers=headers,
        json={"sender_phone": OWNER, "to_phone": RECIPIENT, "type": "text", "content": "hi"},
    )
    assert r.status_code == 201, r.text
    await wait_status(client, headers, r.json()["id"], "delivered")
    after = snapshot()
    delta = {k: after[k] - before[k] for k in after}
    assert delta == {
        "accepted": 1,
        "sent": 1,
        "delivered": 1,
        "attempts_sent": 1,
        "latency_count": 1,
        "failed_not_found": 0,
    }


async def test_a_receipt_that_overtakes_its_sent_is_counted_with_its_latency(
    client: httpx.AsyncClient, headers: dict[str, str], sender: Any, runtime: Runtime
) -> None:
    """A delivered receipt that arrives before the worker recorded ``sent`` walks two steps in one session;
    the second step must see its own values (the session already holds the first step's object)."""
    from datetime import timedelta

    from tgo.kit.clock import now
    from tgo.messages.state import MessageStatus, transition

    tenant_id = (await client.get("/api/v1/me", headers=headers)).json()["tenant"]["id"]
    at = now()
    async with runtime.db.session_scope() as s:  # queued, no job published: only the receipt moves it
        message = await insert_without_job(s, tenant_id, sender["id"], at, "overtaken")
    before = snapshot()
    delivered_at = at + timedelta(seconds=2)
    async with runtime.db.session_scope() as s:
        moved = await transition(s, message.id, MessageStatus.DELIVERED, delivered_at)
        assert moved is not None
        assert moved.status == MessageStatus.DELIVERED
        assert moved.sent_at is not None and moved.delivered_at is not None
        assert moved.delivered_at >= moved.sent_at >= moved.queued_at
    delta = {k: v - before[k] for k, v in snapshot().items()}
    assert delta["sent"] == 1
    assert delta["delivered"] == 1
    assert delta["latency_count"] == 1  # was 0 while the second step kept the first step's values


async def test_a_failed_delivery_is_counted_by_its_failure_code(
    client: httpx.AsyncClient, headers: dict[str, str], sender: Any, switch: SwitchableConnect
) -> None:
    before = snapshot()
    # Connect unreachable at send time (the recipient check is skipped); the recipient has no account.
    switch.down = True
    try:
        r = await client.post(
            "/api/v1/messages",
            headers=headers,
            json={"sender_phone": OWNER, "to_phone": "+201010000055", "type": "text", "content": "hi"},
        )
        assert r.status_code == 201
    finally:
        switch.down = False
    await wait_status(client, headers, r.json()["id"], "failed")
    after = snapshot()
    assert after["failed_not_found"] - before["failed_not_found"] == 1
    assert after["delivered"] - before["delivered"] == 0
    assert after["accepted"] - before["accepted"] == 1


async def test_the_accept_and_the_delivery_log_lines_share_the_request_id(
    client: httpx.AsyncClient, headers: dict[str, str], sender: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    r = await client.post(
        "/api/v1/messages",
        headers={**headers, "X-Request-Id": "corr-42"},
        json={"sender_phone": OWNER, "to_phone": RECIPIENT, "type": "text", "content": "hi"},
    )
    message_id = r.json()["id"]
    await wait_status(client, headers, message_id, "delivered")
    err = capsys.readouterr().err
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    accept = [x for x in lines if x["event"] == "request" and x.get("request_id") == "corr-42"]
    assert accept and accept[0]["message_id"] == message_id and accept[0]["status"] == 201
    delivery = [x for x in lines if x["event"] == "delivery_attempt"]
    assert delivery and all(x["message_id"] == message_id for x in delivery)
    assert "sent" in [x["outcome"] for x in delivery]
    assert delivery[0]["request_id"] == "corr-42"


async def test_the_sweeper_measures_the_backlog_and_counts_what_it_republishes(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    sender: Any,
    runtime: Runtime,
    switch: SwitchableConnect,
) -> None:
    import asyncio

    from tgo.messages.sweeper import sweep

    republished = sample("tgo_sweeper_republished_total", queue="messages")
    switch.down = True
    try:
        r = await client.post(
            "/api/v1/messages",
            headers=headers,
            json={"sender_phone": OWNER, "to_phone": RECIPIENT, "type": "text", "content": "hi"},
        )
        assert r.status_code == 201
        # Connect is down: the message waits, its retries are published by the sweeper.
        for _ in range(200):
            if sample("tgo_sweeper_republished_total", queue="messages") > republished:
                break
            await asyncio.sleep(0.05)
        assert sample("tgo_sweeper_republished_total", queue="messages") > republished
        await sweep(runtime)
        assert sample("tgo_backlog", queue="messages") == 1
        assert sample("tgo_backlog_oldest_age_seconds", queue="messages") > 0
    finally:
        switch.down = False
    await wait_status(client, headers, r.json()["id"], "delivered")
    await sweep(runtime)
    assert sample("tgo_backlog", queue="messages") == 0
    assert sample("tgo_backlog_oldest_age_seconds", queue="messages") == 0
