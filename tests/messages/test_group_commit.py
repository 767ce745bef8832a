"""Group commit of sends (issue 15): concurrent sends share a few transactions; a bad row fails alone; a
database outage mid-batch answers every waiting send 503 and writes nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tests.messages.conftest import OWNER, RECIPIENT, queued_values, settings_with, wait_status
from tgo.config import Settings
from tgo.group_commit import GroupCommit
from tgo.kit.clock import now
from tgo.kit.lazy import Lazy
from tgo.messages.accept_batch import Accepted, QueuedSend, write_queued
from tgo.models import Message, MessageStatusEvent, UsageCounter
from tgo.runtime import Runtime

TEXT = {"sender_phone": OWNER, "to_phone": RECIPIENT, "type": "text", "content": "hello"}


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    # A wide collection window, so that the concurrent sends of a test meet in a batch whatever the
    # machine's load (the default is 1 ms).
    return settings_with(
        db_url,
        tmp_path,
        broker_url="memory://",
        log_json=True,
        send_batch_window_ms=200.0,
        webhook_allow_private_networks=True,
    )


async def _count(runtime: Runtime, model: Any) -> int:
    async with runtime.db.session_scope() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


def _count_commits(runtime: Runtime) -> list[int]:
    commits = [0]

    def on_commit(_conn: Any) -> None:
        commits[0] += 1

    event.listen(runtime.db.engine.sync_engine, "commit", on_commit)
    return commits


async def test_concurrent_sends_share_a_few_commits(
    client: httpx.AsyncClient, headers: dict[str, str], sender: dict[str, Any], runtime: Runtime
) -> None:
    before = await _count(runtime, Message)
    batches_before = runtime.send_batcher.get().batches if runtime.send_batcher.built else 0
    commits = _count_commits(runtime)
    n = 24
    responses = await asyncio.gather(
        *(
            client.post("/api/v1/messages", json={**TEXT, "content": f"m{i}"}, headers=headers)
            for i in range(n)
        )
    )
    assert [r.status_code for r in responses] == [201] * n, [
        r.text for r in responses if r.status_code != 201
    ]
    ids = {r.json()["id"] for r in responses}
    assert len(ids) == n
    assert await _count(runtime, Message) == before + n
    # Each answer names its own row (the batch's ids are matched to its rows in order).
    async with runtime.db.session_scope() as s:
        content = dict(
            (await s.execute(select(Message.id, Message.content).where(Message.id.in_(ids)))).all()
        )
    assert {r.json()["id"]: r.json()["content"] for r in responses} == content
    assert {content[r.json()["id"]] for r in responses} == {f"m{i}" for i in range(n)}
    batches = runtime.send_batcher.get().batches - batches_before
    # One transaction per send would be 24 batches and 24 commits of message rows (plus the deliveries').
    assert 1 <= batches <= 4, batches
    assert commits[0] < 2 * n, commits[0]
    # Each row got its queued history row and is counted once in usage (summed per batch).
    async with runtime.db.session_scope() as s:
        history = await s.scalar(
            select(func.count())
            .select_from(MessageStatusEvent)
            .where(MessageStatusEvent.message_id.in_(ids), MessageStatusEvent.status == "queued")
        )
        # Every status change moves a count from one status to another: the sum is the messages counted.
        counted = await s.scalar(select(func.sum(UsageCounter.count)))
    assert history == n
    assert counted == before + n
    # And every one of them is delivered.
    for message_id in sorted(ids)[-3:]:
        await wait_status(client, headers, message_id, "delivered")


async def test_a_bad_send_gets_its_own_422_and_its_neighbours_are_accepted(
    client: httpx.AsyncClient, headers: dict[str, str], sender: dict[str, Any], runtime: Runtime
) -> None:
    bodies = [TEXT, {**TEXT, "to_phone": "not a phone"}, TEXT, {**TEXT, "content": ""}, TEXT]
    responses = await asyncio.gather(
        *(client.post("/api/v1/messages", json=b, headers=headers) for b in bodies)
    )
    assert [r.status_code for r in responses] == [201, 422, 201, 422, 201]
    assert responses[1].json()["code"] == "validation_failed"
    assert await _count(runtime, Message) == 3


async def test_a_row_that_fails_in_the_batch_does_not_fail_its_neighbours(
    client: httpx.AsyncClient, headers: dict[str, str], sender: dict[str, Any], runtime: Runtime
) -> None:
    async with runtime.db.session_scope() as s:
        tenant_id = int(await s.scalar(text("SELECT tenant_id FROM sender_numbers")) or 0)

    def item(sender_number_id: int, content: str) -> QueuedSend:
        return QueuedSend(
            tenant_id, queued_values(sender_number_id, now(), content=content), interested=False
        )

    batcher = runtime.send_batcher.get()
    good = sender["id"]
    # The middle row names a sender number that does not exist: its INSERT breaks the foreign key.
    results = await asyncio.gather(
        batcher.submit(item(good, "first")),
        batcher.submit(item(good + 1000, "orphan")),
        batcher.submit(item(good, "third")),
        return_exceptions=True,
    )
    assert isinstance(results[1], IntegrityError)
    assert isinstance(results[0], Accepted) and isinstance(results[2], Accepted)
    assert results[0].view.content == "first" and results[0].view.id == results[0].message.id
    async with runtime.db.session_scope() as s:
        contents = sorted(c or "" for c in (await s.scalars(select(Message.content))).all())
        # Every status change moves a count from one status to another: the sum is the messages counted.
        counted = await s.scalar(select(func.sum(UsageCounter.count)))
    assert contents == ["first", "third"]
    assert counted == 2


@pytest.mark.postgres_only
async def test_database_outage_mid_batch_is_503_for_every_send_and_no_row(
    client: httpx.AsyncClient, headers: dict[str, str], sender: dict[str, Any], runtime: Runtime
) -> None:
    killed = [0]

    async def write_then_lose_the_connection(
        session: AsyncSession, items: Sequence[QueuedSend]
    ) -> list[Accepted]:
        written = await write_queued(session, items)
        if not killed[0]:
            killed[0] = len(items)
            # The batch's own PostgreSQL backend is killed after its INSERTs, before its COMMIT.
            await session.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
        return written

    settings = runtime.settings
    runtime.send_batcher = Lazy(
        lambda: GroupCommit(
            runtime.db.sessionmaker,
            write_then_lose_the_connection,
            window=settings.send_batch_window_ms / 1000,
            max_batch=settings.send_batch_max,
        )
    )
    n = 6
    responses = await asyncio.gather(
        *(client.post("/api/v1/messages", json=TEXT, headers=headers) for _ in range(n))
    )
    assert killed[0] == n  # they were one batch
    assert [r.status_code for r in responses] == [503] * n
    assert all(r.headers.get("retry-after") for r in responses)
    assert {r.json()["code"] for r in responses} == {"service_unavailable"}
    assert await _count(runtime, Message) == 0
    # The pool replaces the dead connection: the next send is accepted.
    again = await client.post("/api/v1/messages", json=TEXT, headers=headers)
    assert again.status_code == 201, again.text
    assert await _count(runtime, Message) == 1


async def test_a_batch_is_one_insert_of_messages(
    client: httpx.AsyncClient, headers: dict[str, str], sender: dict[str, Any], runtime: Runtime
) -> None:
    """On SQLite too: the batch's rows go in one statement, not one INSERT per row (insertmanyvalues' fallback
    when RETURNING must follow the parameters' order and the dialect has no sentinel)."""
    inserts: list[int] = []

    def count(_c: Any, _cur: Any, statement: str, params: Any, _ctx: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO MESSAGES "):
            inserts.append(len(params) if many else 1)

    event.listen(runtime.db.engine.sync_engine, "before_cursor_execute", count)
    try:
        responses = await asyncio.gather(
            *(
                client.post("/api/v1/messages", json={**TEXT, "content": f"one-{i}"}, headers=headers)
                for i in range(12)
            )
        )
    finally:
        event.remove(runtime.db.engine.sync_engine, "before_cursor_execute", count)
    assert [r.status_code for r in responses] == [201] * 12
    batches = len(inserts)
    assert 1 <= batches <= 4, inserts
