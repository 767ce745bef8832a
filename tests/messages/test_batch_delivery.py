"""A committed batch is delivered as a batch (issue 16): one job per group commit, one claim, one opt-out
query, the pace taken per sender for its group, one Connect call, outcomes in one statement per kind. Faults:
a refused recipient fails alone with its reason; Connect down mid-batch releases every message for retry and
loses none; a batch Connect partly applied (its answer lost) is never delivered twice; a duplicate job claims
nothing; a lost publish is recovered by the sweeper — against the embedded reference network (or the
in-memory FakeConnect where a scripted outcome, or no receipt, is needed)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.fixtures import media
from tests.fixtures.fake_connect import FakeConnect, use_fake_connect
from tests.messages.conftest import OWNER, RECIPIENT, queue_unpublished, settings_with, wait_status
from tgo.channels.connect_admin import ConnectAdminClient
from tgo.channels.connect_types import OutboundMessage, SendResult
from tgo.config import Settings
from tgo.kit.clock import now
from tgo.kit.lazy import Lazy
from tgo.messages.batch_delivery import deliver_batch
from tgo.messages.pacing import SenderPacer
from tgo.messages.sweeper import sweep
from tgo.models import Message
from tgo.models.webhook import WebhookEvent
from tgo.optouts import service as optouts
from tgo.runtime import Runtime

OTHER = "+201010000001"
THIRD = "+201010000002"


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return settings_with(
        db_url,
        tmp_path,
        broker_url="memory://",
        send_batch_window_ms=200.0,  # the test's concurrent sends meet in one batch whatever the load
        delivery_retry_base_seconds=0.05,
        delivery_retry_max_seconds=0.1,
        sweeper_interval_seconds=3600,  # the tests sweep themselves
        sweeper_stale_seconds=0.2,
        webhook_allow_private_networks=True,
    )


async def _messages(runtime: Runtime, ids: list[int]) -> dict[int, Message]:
    async with runtime.db.session_scope() as s:
        return {m.id: m for m in await s.scalars(select(Message).where(Message.id.in_(ids)))}


async def test_a_group_commit_batch_is_one_job_and_one_connect_call(
    client: httpx.AsyncClient, headers: dict[str, str], sender: dict[str, Any], runtime: Runtime
) -> None:
    fake = await use_fake_connect(runtime, FakeConnect())
    fake.add_account(RECIPIENT)
    batches_before = runtime.send_batcher.get().batches if runtime.send_batcher.built else 0
    n = 12
    rs = await asyncio.gather(
        *(
            client.post(
                "/api/v1/messages",
                json={"sender_phone": OWNER, "to_phone": RECIPIENT, "type": "text", "content": f"m{i}"},
                headers=headers,
            )
            for i in range(n)
        )
    )
    assert [r.status_code for r in rs] == [201] * n
    for r in rs:
        await wait_status(client, headers, r.json()["id"], "sent")
    commits = runtime.send_batcher.get().batches - batches_before
    # One Connect call per committed batch (not one per message), each message handed over once.
    assert len(fake.batches) == commits < n and sum(fake.batches) == n
    assert sorted(m.business_message_id for m in fake.sent) == sorted(f"msg-{r.json()['id']}" for r in rs)


async def test_a_refused_recipient_fails_alone_and_an_opted_out_one_is_not_sent(
    client: httpx.AsyncClient, headers: dict[str, str], sender: dict[str, Any], runtime: Runtime
) -> None:
    admin = ConnectAdminClient.of(runtime.connect.get())
    await admin.create_account(OTHER)
    await admin.create_account(THIRD)
    ids = await queue_unpublished(runtime, sender, [RECIPIENT, OTHER, RECIPIENT, THIRD])
    await admin.disable_account(OTHER)  # after it was accepted: Connect refuses it at delivery
    async with runtime.db.session_scope() as s:
        tenant_id = int(await s.scalar(select(Message.tenant_id).where(Message.id == ids[0])) or 0)
        await optouts.opt_out(s, tenant_id, THIRD, channel="connect", source="api")
    outcomes = await deliver_batch(runtime, ids)
    assert outcomes == {ids[0]: "sent", ids[1]: "failed", ids[2]: "sent", ids[3]: "failed"}
    rows = await _messages(runtime, ids)
    assert rows[ids[1]].failure_code == "account_disabled"
    assert "account_disabled" in (rows[ids[1]].failure_reason or "")
    assert rows[ids[3]].failure_code == "recipient_opted_out"
    assert await admin.attempts(f"msg-{ids[3]}") == 0  # never handed to Connect
    assert await admin.attempts(f"msg-{ids[1]}") == 1
    for message_id in (ids[0], ids[2]):
        body = await wait_status(client, headers, message_id, "delivered")
        assert body["failure_code"] is None
    assert sorted(m.business_message_id for m in await admin.inbox(RECIPIENT)) == sorted(
        [f"msg-{ids[0]}", f"msg-{ids[2]}"]
    )
    assert await admin.inbox(OTHER) == [] and await admin.inbox(THIRD) == []
    # A duplicate (or late) job for the same batch claims nothing and sends nothing.
    assert set((await deliver_batch(runtime, ids)).values()) == {"skipped"}
    assert await admin.attempts(f"msg-{ids[0]}") == 1


async def test_connect_down_mid_batch_releases_every_message_for_retry(
    client: httpx.AsyncClient, headers: dict[str, str], sender: dict[str, Any], runtime: Runtime
) -> None:
    admin = ConnectAdminClient.of(runtime.connect.get())
    ids = await queue_unpublished(runtime, sender, [RECIPIENT] * 5)
    await admin.fail_next_messages(1)
    before = now()
    assert set((await deliver_batch(runtime, ids)).values()) == {"retry"}
    rows = await _messages(runtime, ids)
    for m in rows.values():
        assert m.status == "queued" and m.attempts == 1 and m.claimed_until is None
        assert m.next_attempt_at > before and "retrying" in (m.failure_reason or "")
    assert await admin.inbox(RECIPIENT) == []
    await asyncio.sleep(0.2)  # the back-off (base 0.05 s, at most 0.1 s and its jitter)
    assert set((await deliver_batch(runtime, ids)).values()) == {"sent"}
    for message_id in ids:
        await wait_status(client, headers, message_id, "delivered")
    inbox = [m.business_message_id for m in await admin.inbox(RECIPIENT)]
    assert sorted(inbox) == sorted(f"msg-{i}" for i in ids)


async def test_a_partly_applied_batch_is_never_delivered_twice(
    client: httpx.AsyncClient, headers: dict[str, str], sender: dict[str, Any], runtime: Runtime
) -> None:
    # The FakeConnect pushes no receipts, so the retry (not a receipt) is what answers for the applied part;
    # Connect's own idempotence across batches is tests/connect/test_batch_accept.py's.
    fake = await use_fake_connect(runtime, FakeConnect())
    fake.add_account(RECIPIENT)
    ids = await queue_unpublished(runtime, sender, [RECIPIENT] * 4)
    # A first attempt that Connect applied for two of the messages, its answer lost (the worker crashed).
    applied = await fake.deliver_batch(
        [
            OutboundMessage(
                business_message_id=f"msg-{i}",
                sender_phone=OWNER,
                sender_name="Support",
                to_phone=RECIPIENT,
                type="text",
                content="m",
            )
            for i in ids[:2]
        ]
    )
    first_ids = [r.connect_message_id for r in applied if isinstance(r, SendResult)]
    assert len(first_ids) == 2
    assert set((await deliver_batch(runtime, ids)).values()) == {"sent"}
    rows = await _messages(runtime, ids)
    assert [rows[i].connect_message_id for i in ids[:2]] == first_ids  # the first acceptance's ids
    assert all(rows[i].status == "sent" for i in ids)
    assert sorted(m.business_message_id for m in fake.sent) == sorted(f"msg-{i}" for i in ids)  # each once


async def test_a_lost_publish_is_recovered_by_the_sweeper_as_a_batch(
    client: httpx.AsyncClient, headers: dict[str, str], sender: dict[str, Any], runtime: Runtime
) -> None:
    fake = await use_fake_connect(runtime, FakeConnect())
    fake.add_account(RECIPIENT)
    ids = await queue_unpublished(runtime, sender, [RECIPIENT] * 6)
    await asyncio.sleep(0.3)  # older than the stale time
    assert await sweep(runtime) == 6
    for message_id in ids:
        await wait_status(client, headers, message_id, "sent")
    assert fake.batches == [6] and len(fake.sent) == 6
    assert await sweep(runtime) == 0


async def test_the_pace_holds_per_sender_number_for_a_batch(
    client: httpx.AsyncClient, headers: dict[str, str], sender: dict[str, Any], runtime: Runtime
) -> None:
    fake = await use_fake_connect(runtime, FakeConnect())
    fake.add_account(RECIPIENT)
    pacer = SenderPacer(runtime.settings.model_copy(update={"sender_rate_per_second": 5}))
    runtime.sender_pacer = Lazy(lambda: pacer)
    ids = await queue_unpublished(runtime, sender, [RECIPIENT] * 12)
    started = time.monotonic()
    assert set((await deliver_batch(runtime, ids)).values()) == {"sent"}
    # 5 a second for the one number: three rounds (5, 5, 2), the last ones at least a second later.
    assert fake.batches == [5, 5, 2]
    assert time.monotonic() - started >= 1.0


async def test_a_media_message_goes_out_with_its_media_and_its_events_show_it(
    client: httpx.AsyncClient, headers: dict[str, str], sender: dict[str, Any], runtime: Runtime
) -> None:
    # The batch delivery reads the claimed messages' media for Connect, and ``transition_many`` (the sent and
    # delivered changes) reads them for the events: both through ``messages.repository.media_of``.
    r = await client.post(
        "/api/v1/webhooks",
        headers=headers,
        json={"url": "https://hooks.example.com/tgo", "events": ["message.sent", "message.delivered"]},
    )
    assert r.status_code == 201, r.text
    text = await client.post(
        "/api/v1/messages",
        json={"sender_phone": OWNER, "to_phone": RECIPIENT, "type": "text", "content": "no media"},
        headers=headers,
    )
    image = await client.post(
        "/api/v1/messages",
        headers=headers,
        data={"sender_phone": OWNER, "to_phone": RECIPIENT, "type": "image", "caption": "a pixel"},
        files={"media": ("image.png", media.png(), "image/png")},
    )
    assert text.status_code == image.status_code == 201, (text.text, image.text)
    for m in (text.json(), image.json()):
        await wait_status(client, headers, m["id"], "delivered")
    admin = ConnectAdminClient.of(runtime.connect.get())
    got = {m.business_message_id: m for m in await admin.inbox(RECIPIENT)}
    ref = got[f"msg-{image.json()['id']}"].media
    assert ref is not None and ref.content_type == "image/png" and ref.size == len(media.png())
    assert got[f"msg-{text.json()['id']}"].media is None
    async with runtime.db.session_scope() as s:
        bodies = [json.loads(e.body) for e in await s.scalars(select(WebhookEvent).order_by(WebhookEvent.id))]
    shown = {(b["type"], b["data"]["id"]): b["data"]["media"] for b in bodies}
    expected_media = image.json()["media"]
    assert shown == {
        ("message.sent", image.json()["id"]): expected_media,
        ("message.delivered", image.json()["id"]): expected_media,
        ("message.sent", text.json()["id"]): None,
        ("message.delivered", text.json()["id"]): None,
    }
