"""``transition_many`` keeps every guarantee of ``transition`` for a set of messages (issue 16 item 3): the
allowed moves only, skipped steps walked, each step's timestamp, history row, usage count, webhook event and
metric, a later state never at an earlier time — checked against ``transition`` on twin messages."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from tests.messages.conftest import insert_without_job
from tgo.kit.clock import now
from tgo.messages.state import MessageStatus, transition, transition_many
from tgo.models import Message, MessageStatusEvent, UsageCounter
from tgo.models.webhook import WebhookDelivery, WebhookEvent
from tgo.runtime import Runtime

M = MessageStatus
# The state each twin starts in, reached through ``transition`` from queued.
STARTS: list[list[MessageStatus]] = [
    [],
    [M.SENT],
    [M.SENT, M.DELIVERED],
    [M.FAILED],
    [M.SENT, M.DELIVERED, M.READ],
]


def _delivered() -> float:
    return REGISTRY.get_sample_value("tgo_messages_delivered_total") or 0.0


async def _make(runtime: Runtime, tenant_id: int, sender_id: int, base: datetime) -> list[int]:
    ids = []
    async with runtime.db.session_scope() as s:
        for n, path in enumerate(STARTS):
            # No job: nothing but this test moves them.
            m = await insert_without_job(s, tenant_id, sender_id, base, f"twin {n}")
            for k, step in enumerate(path):
                await transition(s, m.id, step, base + timedelta(seconds=k + 1), failure_code="x")
            ids.append(m.id)
    return ids


async def _state(runtime: Runtime, ids: list[int]) -> list[dict[str, Any]]:
    """Each message's status, times (relative to its queued time), history and webhook events."""
    out = []
    async with runtime.db.session_scope() as s:
        for i in ids:
            m = await s.get(Message, i)
            assert m is not None
            rel = {
                f: (getattr(m, f) - m.queued_at).total_seconds() if getattr(m, f) else None
                for f in ("sent_at", "delivered_at", "read_at", "failed_at", "updated_at")
            }
            history = [
                (h.status, (h.at - m.queued_at).total_seconds(), h.detail)
                for h in await s.scalars(
                    select(MessageStatusEvent)
                    .where(MessageStatusEvent.message_id == i)
                    .order_by(MessageStatusEvent.id)
                )
            ]
            hooks = []
            for e in await s.scalars(select(WebhookEvent).order_by(WebhookEvent.id)):
                body = json.loads(e.body)
                if body["data"]["id"] == i:
                    assert body["sequence"] == e.id
                    hooks.append((e.type, body["data"]["status"], body["data"]["read_at"] is not None))
            out.append({"status": m.status, "times": rel, "history": history, "hooks": hooks})
    return out


async def _usage(runtime: Runtime) -> dict[str, int]:
    async with runtime.db.session_scope() as s:
        rows = await s.execute(
            select(UsageCounter.status, func.sum(UsageCounter.count)).group_by(UsageCounter.status)
        )
        return {str(r[0]): int(r[1]) for r in rows}


@pytest.mark.parametrize("to", [M.DELIVERED, M.READ, M.SENT, M.FAILED])
async def test_transition_many_matches_transition_on_twins(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    sender: dict[str, Any],
    runtime: Runtime,
    to: MessageStatus,
) -> None:
    r = await client.post(
        "/api/v1/webhooks",
        headers=headers,
        json={
            "url": "https://hooks.example.com/tgo",
            "events": [f"message.{e.value}" for e in M],
        },
    )
    assert r.status_code == 201, r.text
    tenant_id = (await client.get("/api/v1/me", headers=headers)).json()["tenant"]["id"]
    base = now() - timedelta(minutes=5)
    singles = await _make(runtime, tenant_id, sender["id"], base)
    many = await _make(runtime, tenant_id, sender["id"], base)
    # One receipt stamped before the message's last change: it never goes back in time.
    times = [
        base + timedelta(seconds=10),
        base + timedelta(seconds=11),
        base,
        base + timedelta(seconds=13),
        base,
    ]
    fields: dict[str, Any] = {"failure_code": "boom", "failure_reason": "it broke"} if to == M.FAILED else {}

    usage0, delivered0 = await _usage(runtime), _delivered()
    async with runtime.db.session_scope() as s:
        moved_singles = [await transition(s, i, to, t, **fields) for i, t in zip(singles, times, strict=True)]
    usage1, delivered1 = await _usage(runtime), _delivered()
    async with runtime.db.session_scope() as s:
        moved = await transition_many(
            s, list(reversed(many)), to, base, times=dict(zip(many, times, strict=True)), **fields
        )
    usage2, delivered2 = await _usage(runtime), _delivered()

    # The same messages moved (in the order given), to the same states, times, history and events.
    assert [m.id for m in moved] == [i for i, m in reversed(list(zip(many, moved_singles, strict=True))) if m]
    assert await _state(runtime, many) == await _state(runtime, singles)
    changed = {k for k in set(usage1) | set(usage0) if usage1.get(k, 0) != usage0.get(k, 0)}
    assert {k: usage2.get(k, 0) - usage1.get(k, 0) for k in changed} == {
        k: usage1.get(k, 0) - usage0.get(k, 0) for k in changed
    }
    assert delivered2 - delivered1 == delivered1 - delivered0
    if to == M.DELIVERED:
        assert delivered2 - delivered1 == 2  # queued (walks through sent) and sent
    async with runtime.db.session_scope() as s:
        per_event = await s.execute(
            select(WebhookDelivery.event_id, func.count()).group_by(WebhookDelivery.event_id)
        )
        assert {n for _e, n in per_event} == {1}  # one delivery per event for the one endpoint


async def test_a_rolled_back_batch_moves_nothing_and_counts_nothing(
    client: httpx.AsyncClient, headers: dict[str, str], sender: dict[str, Any], runtime: Runtime
) -> None:
    tenant_id = (await client.get("/api/v1/me", headers=headers)).json()["tenant"]["id"]
    ids = await _make(runtime, tenant_id, sender["id"], now() - timedelta(minutes=1))
    before, delivered0 = await _state(runtime, ids), _delivered()
    with pytest.raises(RuntimeError):
        async with runtime.db.session_scope() as s:
            assert len(await transition_many(s, ids, M.DELIVERED, now())) == 2
            raise RuntimeError("the receiving transaction fails later")
    assert await _state(runtime, ids) == before
    assert _delivered() == delivered0


async def test_unknown_ids_and_unknown_fields(runtime: Runtime) -> None:
    async with runtime.db.session_scope() as s:
        assert await transition_many(s, [10**12, 10**12 + 1], M.DELIVERED, now()) == []
        assert await transition_many(s, [], M.READ, now()) == []
        with pytest.raises(TypeError):
            await transition_many(s, [1], M.SENT, now(), colour="red")
