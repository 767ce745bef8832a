"""Delivery through ConnectClient: retries with back-off while Connect is unreachable, then delivery; failure
with a reason after the attempt limit; repeated jobs are no-ops."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.connect import ConnectHelper, SwitchableConnect, switchable_runtime
from tests.messages.conftest import OWNER, RECIPIENT, insert_without_job, settings_with, wait_status
from tgo.config import Settings
from tgo.messages.delivery import deliver_message
from tgo.messages.sweeper import sweep
from tgo.runtime import Runtime

TEXT = {"sender_phone": OWNER, "to_phone": RECIPIENT, "type": "text", "content": "retry me"}


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return settings_with(
        db_url,
        tmp_path,
        delivery_retry_base_seconds=0.05,
        delivery_retry_max_seconds=0.2,
        delivery_max_attempts=3,
        sweeper_interval_seconds=0.1,
        sweeper_stale_seconds=0.5,
        connect_timeout_seconds=1.0,
    )


@pytest.fixture
def switch(settings: Settings) -> SwitchableConnect:
    return SwitchableConnect(settings)


@pytest.fixture
async def runtime(settings: Settings, switch: SwitchableConnect) -> AsyncIterator[Runtime]:
    async with switchable_runtime(settings, switch) as rt:
        yield rt


async def test_connect_down_then_back_delivers(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    sender: dict[str, Any],
    runtime: Runtime,
    connect: ConnectHelper,
    switch: SwitchableConnect,
) -> None:
    switch.down = True
    try:
        r = await client.post("/api/v1/messages", json=TEXT, headers=headers)
        assert r.status_code == 201  # accepted while Connect is down: the database holds it
        message_id = r.json()["id"]
        body = await wait_status(client, headers, message_id, "queued")
        for _ in range(40):
            body = (await client.get(f"/api/v1/messages/{message_id}", headers=headers)).json()
            if body["failure_reason"]:
                break
            import asyncio

            await asyncio.sleep(0.05)
        assert body["status"] == "queued" and "retrying" in (body["failure_reason"] or "")
    finally:
        switch.down = False
    try:
        delivered = await wait_status(client, headers, message_id, "delivered")
    except AssertionError:
        from sqlalchemy import text

        net = runtime.embedded_connect.get().network
        async with net.db.session_scope() as s:
            for row in (
                await s.execute(
                    text(
                        "select id, type, attempts, delivered_at, next_attempt_at, last_error, data from connect_events order by id"
                    )
                )
            ).all():
                print("EVT", row)
            print(
                "INBOX",
                (await s.execute(text("select id, business_message_id from connect_inbox_messages"))).all(),
            )
        raise
    assert delivered["delivered_at"]
    inbox = [m for m in await connect.inbox(RECIPIENT) if m.business_message_id == f"msg-{message_id}"]
    assert len(inbox) == 1


async def test_attempt_limit_fails_with_reason(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    sender: dict[str, Any],
    runtime: Runtime,
    switch: SwitchableConnect,
) -> None:
    switch.down = True
    try:
        message_id = (await client.post("/api/v1/messages", json=TEXT, headers=headers)).json()["id"]
        failed = await wait_status(client, headers, message_id, "failed", timeout=15)
    finally:
        switch.down = False
    assert failed["failure_code"] == "connect_unavailable" and "3 attempts" in failed["failure_reason"]
    assert failed["failed_at"]


async def test_repeated_jobs_are_no_ops_and_connect_dedupes(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    sender: dict[str, Any],
    runtime: Runtime,
    connect: ConnectHelper,
) -> None:
    message_id = (await client.post("/api/v1/messages", json=TEXT, headers=headers)).json()["id"]
    await wait_status(client, headers, message_id, "delivered")
    assert await deliver_message(runtime, message_id) == "skipped"
    assert await sweep(runtime) == 0
    assert await connect.client.attempts(f"msg-{message_id}") == 1
    inbox = [m for m in await connect.inbox(RECIPIENT) if m.business_message_id == f"msg-{message_id}"]
    assert len(inbox) == 1


async def test_recipient_gone_by_delivery_time_fails_with_its_reason(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    sender: dict[str, Any],
    runtime: Runtime,
    connect: ConnectHelper,
    switch: SwitchableConnect,
) -> None:
    switch.down = True  # the send-time check is skipped while down
    try:
        r = await client.post("/api/v1/messages", json=TEXT | {"to_phone": "+201010000055"}, headers=headers)
        assert r.status_code == 201
    finally:
        switch.down = False
    failed = await wait_status(client, headers, r.json()["id"], "failed")
    assert failed["failure_code"] == "not_found"


async def test_the_sweeper_republishes_a_waiting_row_once_per_stale_period(
    client: httpx.AsyncClient, headers: dict[str, str], sender: dict[str, Any], runtime: Runtime
) -> None:
    """A row whose job may be lost is re-published once, then left alone for sweeper_stale_seconds (its job
    may sit behind a backlog); before, every sweep re-published every waiting row."""
    from datetime import timedelta

    from tgo.kit.clock import now
    from tgo.messages.repository import DeliveryQueue
    from tgo.models import Message, SenderNumber

    stale = timedelta(seconds=runtime.settings.sweeper_stale_seconds)
    # A row due only an hour from now, so this test's own workers and sweeper never touch it.
    at = now() + timedelta(hours=1)
    async with runtime.db.session_scope() as s:
        number = await s.get(SenderNumber, sender["id"])
        assert number is not None
        # As if its job had been lost before any attempt: never claimed, older than the stale time.
        row = Message(
            tenant_id=number.tenant_id,
            sender_number_id=number.id,
            sender_phone=number.phone,
            to_phone=RECIPIENT,
            message_type="text",
            content="lost job",
            status="queued",
            attempts=0,
            next_attempt_at=at - timedelta(minutes=1),
            queued_at=at - stale * 2,
            updated_at=at - stale * 2,
        )
        s.add(row)
        await s.flush()
        message_id = row.id
        assert await DeliveryQueue(s).take_due(at, at - stale, include_never_attempted=False, limit=10) == []
        assert await DeliveryQueue(s).take_due(at, at - stale, include_never_attempted=True, limit=10) == [
            message_id
        ]
        # The next sweeps, within the stale time, leave it alone ...
        for later in (at, at + stale / 2):
            assert (
                await DeliveryQueue(s).take_due(later, later - stale, include_never_attempted=True, limit=10)
                == []
            )
        # ... the one after it takes it again (its job was lost too, or it is still waiting in a backlog).
        later = at + stale * 1.5
        assert await DeliveryQueue(s).take_due(
            later, later - stale, include_never_attempted=True, limit=10
        ) == [message_id]


async def test_recipient_sees_the_display_name_else_the_tenant_name(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    sender: dict[str, Any],
    runtime: Runtime,
    connect: ConnectHelper,
) -> None:
    from sqlalchemy import select, update

    from tgo.models import SenderNumber, Tenant

    async def delivered_name() -> str:
        message_id = (await client.post("/api/v1/messages", json=TEXT, headers=headers)).json()["id"]
        await wait_status(client, headers, message_id, "delivered")
        inbox = [m for m in await connect.inbox(RECIPIENT) if m.business_message_id == f"msg-{message_id}"]
        return inbox[0].sender_name

    assert await delivered_name() == "Support"
    for no_name in (None, ""):
        async with runtime.db.session_scope() as s:
            await s.execute(
                update(SenderNumber).where(SenderNumber.id == sender["id"]).values(display_name=no_name)
            )
            tenant_name = await s.scalar(
                select(Tenant.name).join(SenderNumber, SenderNumber.tenant_id == Tenant.id)
            )
        assert tenant_name
        assert await delivered_name() == tenant_name


async def test_receipts_that_overtake_walk_the_skipped_steps_and_late_changes_are_no_ops(
    client: httpx.AsyncClient, headers: dict[str, str], sender: dict[str, Any], runtime: Runtime
) -> None:
    from datetime import timedelta

    from tgo.kit.clock import now
    from tgo.messages.delivery import apply_receipt
    from tgo.messages.state import MessageStatus, transition

    tenant_id = (await client.get("/api/v1/me", headers=headers)).json()["tenant"]["id"]
    at = now()
    async with runtime.db.session_scope() as s:  # stored as queued, no job published: nothing delivers it
        message = await insert_without_job(s, tenant_id, sender["id"], at, "overtaken")
    earlier = at - timedelta(seconds=5)  # a receipt stamped before the queued time never goes back in time
    async with runtime.db.session_scope() as s:
        assert await apply_receipt(s, f"msg-{message.id}", MessageStatus.DELIVERED, earlier) is True
    async with runtime.db.session_scope() as s:
        assert await transition(s, message.id, MessageStatus.SENT, now()) is None
        assert await transition(s, message.id, MessageStatus.FAILED, now(), failure_code="x") is None
    async with runtime.db.session_scope() as s:
        assert (
            await apply_receipt(s, f"msg-{message.id}", MessageStatus.READ, at + timedelta(seconds=1)) is True
        )
    body = (await client.get(f"/api/v1/messages/{message.id}", headers=headers)).json()
    assert body["status"] == "read"
    assert [h["status"] for h in body["history"]] == ["queued", "sent", "delivered", "read"]
    assert body["sent_at"] == body["delivered_at"] == body["queued_at"]
    assert body["read_at"] > body["delivered_at"]
