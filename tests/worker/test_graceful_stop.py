"""A `tgo worker` given SIGTERM mid-batch (issue 16 item 5): it claims nothing more, finishes the deliveries it
holds, acknowledges them and only then closes its clients, so nothing it started is left for the sweeper (the
sweeper is off here: a stranded message would stay stranded), its log has no "Session is closed", and it
exits 0 within TGO_WORKER_STOP_SECONDS. The jobs it never started are still in the broker: a second worker
delivers them, each exactly once."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import text

from tests.e2e.test_scaleout import OWNER, RECIPIENT, counts, inbox_duplicates, send_many
from tests.fixtures.amqp import delete_queues, queue_name
from tests.fixtures.processes import Proc, free_port, process_env, stop_all, wait_http
from tgo.apikeys.service import create_api_key
from tgo.channels.connect_admin import ConnectAdminClient
from tgo.config import Settings
from tgo.db import Database
from tgo.tenants.service import create_tenant
from tgo.wiring import build_runtime

pytestmark = [pytest.mark.postgres_only, pytest.mark.e2e]

STOP_BOUND_SECONDS = 20.0


@dataclass
class Stack:
    http: httpx.AsyncClient
    db: Database
    env: dict[str, str]
    log_dir: Path
    procs: list[Proc]

    def spawn(self, name: str, *args: str) -> Proc:
        proc = Proc(name, list(args), self.env, self.log_dir).start()
        self.procs.append(proc)
        return proc


BROKERS = {"rabbitmq": "amqp://guest:guest@127.0.0.1:5672/", "redis": "redis://127.0.0.1:6379/0"}


@pytest.fixture(params=sorted(BROKERS))
async def stack(
    db_url: str, settings: Settings, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Stack]:
    runtime = build_runtime(settings)  # never started: it only writes the tenant and reads the rows
    api_port, connect_port = free_port(), free_port()
    queue = queue_name("tgo_stop")
    env = process_env(
        db_url,
        runtime.settings.secret(),
        tmp_path / "d",
        TGO_BROKER_URL=BROKERS[request.param],
        TGO_QUEUE_NAME=queue,
        # Redis: entries the stopping worker had read but not started are handed back as it stops, not
        # reclaimed after this long.
        TGO_REDIS_STREAM_CLAIM_SECONDS="600",
        TGO_CONNECT_URL=f"http://127.0.0.1:{connect_port}",
        TGO_BUSINESS_URL=f"http://127.0.0.1:{api_port}",
        TGO_RUN_WORKERS="false",
        # No rescue: a message the stopping worker claimed and left would stay queued.
        TGO_SWEEPER_INTERVAL_SECONDS="3600",
        TGO_DELIVERY_CLAIM_SECONDS="600",
        # Paced, so that a worker holds dozens of claimed deliveries (RabbitMQ's prefetch) at any moment.
        TGO_SENDER_RATE_PER_SECOND="40",
        TGO_WORKER_STOP_SECONDS=str(STOP_BOUND_SECONDS - 5),
        TGO_LOG_LEVEL="INFO",
        TGO_DATABASE_POOL_SIZE="4",  # PostgreSQL's 100 connections are shared with the other tests
        TGO_CONNECT_EVENT_INTERVAL_SECONDS="0.5",
    )
    s = Stack(http=httpx.AsyncClient(), db=runtime.db, env=env, log_dir=tmp_path, procs=[])
    connect = s.spawn("connect", "connect", "serve", "--port", str(connect_port))
    api = s.spawn("api", "serve", "--port", str(api_port))
    cc = ConnectAdminClient.over_http(env["TGO_CONNECT_URL"], runtime.settings.secret())
    try:
        wait_http(f"http://127.0.0.1:{connect_port}/connect/healthz", proc=connect)
        wait_http(f"http://127.0.0.1:{api_port}/healthz", proc=api)
        async with runtime.db.session_scope() as session:
            tenant = await create_tenant(session, slug="acme", domain="acme.localhost")
            _, key = await create_api_key(session, tenant.id, name="e2e", scopes="*")
        await cc.create_account(OWNER, name="Owner", verified=True)
        await cc.create_account(RECIPIENT, name="Recipient", verified=True)
        s.http = httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{api_port}", headers={"X-Api-Key": key}, timeout=30
        )
        num = (await s.http.post("/api/v1/sender-numbers", json={"phone": OWNER})).json()
        found = re.search(r"\b(\d{6})\b", max(await cc.inbox(OWNER), key=lambda m: m.id).content or "")
        assert found is not None
        verified = await s.http.post(f"/api/v1/sender-numbers/{num['id']}/verify", json={"otp": found[1]})
        assert verified.json()["can_send"], verified.text
        yield s
    finally:
        await s.http.aclose()
        await cc.aclose()
        try:
            stop_all(s.procs)
        finally:
            await runtime.close()
            if request.param == "redis":
                async with Redis.from_url(BROKERS["redis"]) as redis:
                    await redis.delete(queue)
            else:
                await delete_queues(queue)


async def stranded(db: Database) -> int:
    """Messages a worker claimed (an attempt counted) that are still waiting: left for the sweeper."""
    async with db.session_scope() as s:
        found = await s.scalar(text("SELECT count(*) FROM messages WHERE status = 'queued' AND attempts > 0"))
    return int(found or 0)


async def wait_for(db: Database, status: str, n: int, timeout: float, procs: list[Proc]) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    c = await counts(db)
    c["sent_or_delivered"] = c.get("sent", 0) + c.get("delivered", 0)
    while c.get(status, 0) < n:
        assert time.monotonic() < deadline, f"not {n} {status}: {c}\n" + "\n".join(p.tail(15) for p in procs)
        await asyncio.sleep(0.2)
        c = await counts(db)
        c["sent_or_delivered"] = c.get("sent", 0) + c.get("delivered", 0)
    return c


async def test_sigterm_mid_batch_finishes_what_the_worker_holds_and_strands_nothing(stack: Stack) -> None:
    n = 400
    ids = await send_many(stack.http, n)
    worker = stack.spawn("worker-1", "worker")
    await wait_for(stack.db, "sent_or_delivered", 40, 60, [worker])
    assert await stranded(stack.db) > 0, "the worker held no claimed delivery at the SIGTERM"
    assert worker.proc is not None
    worker.proc.send_signal(signal.SIGTERM)  # to the worker only
    started = time.monotonic()
    try:
        code = worker.proc.wait(timeout=STOP_BOUND_SECONDS)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"no exit within {STOP_BOUND_SECONDS}s of SIGTERM:\n{worker.tail()}") from None
    took = time.monotonic() - started
    log = worker.log.read_text(errors="replace")
    assert code == 0, log[-3000:]
    assert "Session is closed" not in log and "jobs_abandoned_at_stop" not in log, log[-3000:]
    assert "worker_stopped" in log, log[-3000:]
    # Everything the worker had claimed went out to Connect before it exited (sent; delivered once
    # Connect's event arrives): nothing waits for a sweeper.
    assert await stranded(stack.db) == 0, await counts(stack.db)
    after_stop = await counts(stack.db)
    assert after_stop.get("queued", 0) > 0, f"the batch finished before the SIGTERM: {after_stop}"
    assert after_stop.get("failed", 0) == 0, after_stop
    assert took < STOP_BOUND_SECONDS
    # The jobs it had not started were not acknowledged: the next worker delivers them, none twice.
    second = stack.spawn("worker-2", "worker")
    await wait_for(stack.db, "delivered", len(ids), 120, [second])
    assert await inbox_duplicates(stack.db) == (n, 0)
