"""Per-sender-number delivery pace (TGO_SENDER_RATE_PER_SECOND): a burst above the pace is delivered late,
never failed — the worker waits for a slot instead of refusing or retrying."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.messages.conftest import OWNER, RECIPIENT, settings_with
from tgo.config import Settings
from tgo.runtime import Runtime

RATE = 5
BURST = 20


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return settings_with(
        db_url,
        tmp_path,
        sender_rate_per_second=RATE,
    )


async def test_a_burst_over_the_sender_pace_is_delayed_not_failed(
    client: httpx.AsyncClient, headers: dict[str, str], sender: dict[str, Any], runtime: Runtime
) -> None:
    ids = []
    for i in range(BURST):
        r = await client.post(
            "/api/v1/messages",
            json={"sender_phone": OWNER, "to_phone": RECIPIENT, "type": "text", "content": f"burst {i}"},
            headers=headers,
        )
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])

    bodies: list[dict[str, Any]] = []
    for _ in range(300):
        bodies = [(await client.get(f"/api/v1/messages/{i}", headers=headers)).json() for i in ids]
        if all(b["sent_at"] for b in bodies):
            break
        await asyncio.sleep(0.1)
    assert all(b["sent_at"] for b in bodies), [b["status"] for b in bodies]
    assert not [b for b in bodies if b["status"] == "failed"]
    # Each message went out on its first attempt: it waited for its slot, it was not retried.
    async with runtime.db.session_scope() as s:
        attempts = (await s.execute(text("SELECT max(attempts) FROM messages"))).scalar_one()
    assert attempts == 1

    sent = sorted(datetime.fromisoformat(b["sent_at"].replace("Z", "+00:00")) for b in bodies)
    # At most RATE sends start in any second, so 2 * RATE + 1 consecutive ones span two seconds or more
    # (checked with a second of slack: sent_at is taken after Connect answered, a varying time later) ...
    for earlier, later in zip(sent, sent[2 * RATE :], strict=False):
        assert (later - earlier).total_seconds() >= 1.0, sent
    # ... so the burst took about BURST / RATE seconds instead of going out at once.
    assert (sent[-1] - sent[0]).total_seconds() >= (BURST / RATE - 1) * 0.9
