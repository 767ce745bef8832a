"""``state.transition_many``: the set-based move keeps ``transition``'s guarantees for every message — the
allowed moves only (a repeat or a late move is a no-op), later-of-two timestamps, a history row per step, the
usage counters moved, one ``message.*`` event per message (webhook rows), skipped steps walked through —
with per-message values given as one SQL expression. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import case, func, select

from tests.messages.conftest import RECIPIENT, queue_unpublished, settings_with
from tgo.config import Settings
from tgo.kit.clock import now
from tgo.messages.state import MessageStatus, transition_many
from tgo.models import Message, MessageStatusEvent, UsageCounter, WebhookEvent
from tgo.runtime import Runtime


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return settings_with(
        db_url,
        tmp_path,
        broker_url="memory://",
        sweeper_interval_seconds=3600,  # nothing re-publishes the test's messages
        webhook_allow_private_networks=True,
    )


async def _queued(
    client: httpx.AsyncClient, headers: dict[str, str], runtime: Runtime, sender: dict[str, Any], n: int
) -> list[int]:
    """``n`` queued messages that no worker moves under the test, whose tenant's webhook endpoint subscribes
    to their events."""
    r = await client.post(
        "/api/v1/webhooks",
        json={
            "url": "http://127.0.0.1:9/hook",
            "events": ["message.sent", "message.failed", "message.delivered"],
        },
        headers=headers,
    )
    assert r.status_code == 201, r.text
    return sorted(await queue_unpublished(runtime, sender, [RECIPIENT] * n))


async def _history(runtime: Runtime, ids: list[int]) -> dict[int, list[tuple[str, str | None]]]:
    async with runtime.db.session_scope() as s:
        rows = await s.execute(
            select(MessageStatusEvent.message_id, MessageStatusEvent.status, MessageStatusEvent.detail)
            .where(MessageStatusEvent.message_id.in_(ids))
            .order_by(MessageStatusEvent.id)
        )
        out: dict[int, list[tuple[str, str | None]]] = {i: [] for i in ids}
        for message_id, status, detail in rows:
            out[message_id].append((status, detail))
        return out


async def _usage(runtime: Runtime) -> dict[str, int]:
    async with runtime.db.session_scope() as s:
        rows = await s.execute(
            select(UsageCounter.status, func.sum(UsageCounter.count)).group_by(UsageCounter.status)
        )
        return {str(status): int(n) for status, n in rows}


async def _events(runtime: Runtime, kind: str) -> list[dict[str, Any]]:
    async with runtime.db.session_scope() as s:
        bodies = await s.scalars(
            select(WebhookEvent.body).where(WebhookEvent.type == kind).order_by(WebhookEvent.id)
        )
        return [json.loads(b)["data"] for b in bodies]


async def test_sent_per_message_values_history_usage_and_events(
    client: httpx.AsyncClient, headers: dict[str, str], sender: dict[str, Any], runtime: Runtime
) -> None:
    ids = await _queued(client, headers, runtime, sender, 5)
    assert (await _usage(runtime)).get("queued") == 5
    at = now()
    connect_ids = {message_id: 1000 + message_id for message_id in ids[:4]}
    async with runtime.db.session_scope() as s:
        moved = await transition_many(
            s, ids[:4], MessageStatus.SENT, at, connect_message_id=case(connect_ids, value=Message.id)
        )
    assert sorted(m.id for m in moved) == ids[:4]
    assert all(m.status == "sent" and m.connect_message_id == 1000 + m.id for m in moved)
    assert all(m.sent_at is not None and m.sent_at >= m.queued_at and m.claimed_until is None for m in moved)
    history = await _history(runtime, ids)
    assert all(history[i] == [("queued", None), ("sent", None)] for i in ids[:4]), history
    assert history[ids[4]] == [("queued", None)]
    assert await _usage(runtime) == {"queued": 1, "sent": 4}
    sent_events = await _events(runtime, "message.sent")
    assert sorted(e["id"] for e in sent_events) == ids[:4]
    assert all(e["status"] == "sent" for e in sent_events)

    # Again, and with one more: only the one still queued moves; nothing is counted twice.
    async with runtime.db.session_scope() as s:
        again = await transition_many(s, ids, MessageStatus.SENT, now(), connect_message_id=7)
    assert [m.id for m in again] == [ids[4]]
    assert await _usage(runtime) == {"queued": 0, "sent": 5}
    assert len(await _events(runtime, "message.sent")) == 5
    # A move its status does not allow is a no-op: sent messages cannot fail.
    async with runtime.db.session_scope() as s:
        assert await transition_many(s, ids, MessageStatus.FAILED, now(), failure_code="x") == []
    assert await _events(runtime, "message.failed") == []


async def test_failed_with_reasons_and_a_walk_through_skipped_steps(
    client: httpx.AsyncClient, headers: dict[str, str], sender: dict[str, Any], runtime: Runtime
) -> None:
    ids = await _queued(client, headers, runtime, sender, 4)
    failing = ids[:2]
    reasons = {failing[0]: "The recipient opted out.", failing[1]: "Connect refused the message: not_found"}
    async with runtime.db.session_scope() as s:
        failed = await transition_many(
            s,
            failing,
            MessageStatus.FAILED,
            now(),
            failure_code=case({failing[0]: "recipient_opted_out", failing[1]: "not_found"}, value=Message.id),
            failure_reason=case(reasons, value=Message.id),
        )
    by_id = {m.id: m for m in failed}
    assert by_id[failing[0]].failure_code == "recipient_opted_out"
    assert by_id[failing[1]].failure_code == "not_found" and by_id[failing[1]].failed_at is not None
    history = await _history(runtime, failing)
    assert history[failing[0]][-1] == ("failed", reasons[failing[0]])  # the reason is the history's detail
    assert history[failing[1]][-1] == ("failed", reasons[failing[1]])
    assert sorted(e["id"] for e in await _events(runtime, "message.failed")) == failing

    # Delivered for one queued and one sent message: the queued one walks through sent (both timestamps,
    # both history rows, both events); each gets exactly one delivered event.
    walking, sent = ids[2], ids[3]
    async with runtime.db.session_scope() as s:
        await transition_many(s, [sent], MessageStatus.SENT, now(), connect_message_id=9)
    later = now()
    async with runtime.db.session_scope() as s:
        delivered = await transition_many(s, [walking, sent, *failing], MessageStatus.DELIVERED, later)
    assert sorted(m.id for m in delivered) == [walking, sent]
    assert all(m.status == "delivered" and m.sent_at and m.delivered_at for m in delivered)
    history = await _history(runtime, [walking, sent])
    assert [h[0] for h in history[walking]] == ["queued", "sent", "delivered"]
    assert [h[0] for h in history[sent]] == ["queued", "sent", "delivered"]
    assert sorted(e["id"] for e in await _events(runtime, "message.delivered")) == [walking, sent]
    assert sorted(e["id"] for e in await _events(runtime, "message.sent")) == [walking, sent]
    assert await _usage(runtime) == {"queued": 0, "sent": 0, "failed": 2, "delivered": 2}
    async with runtime.db.session_scope() as s:
        assert await transition_many(s, [], MessageStatus.SENT, now()) == []
