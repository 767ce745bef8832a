"""Scale-out end to end: PostgreSQL, a real RabbitMQ, the API, `tgo worker` processes and Connect each in its
own process. Every accepted message ends delivered, exactly once in the recipient's inbox, also when a worker
is SIGKILLed mid-batch."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.fixtures.amqp import delete_queues, queue_name
from tests.fixtures.processes import Proc, free_port, process_env, stop_all, wait_http
from tgo.apikeys.service import create_api_key
from tgo.channels.connect_admin import ConnectAdminClient
from tgo.config import Settings
from tgo.db import Database
from tgo.tenants.service import create_tenant
from tgo.wiring import build_runtime

pytestmark = [pytest.mark.postgres_only, pytest.mark.e2e]

OWNER, RECIPIENT = "+201001187188", "+201010000000"


@pytest.fixture
async def stack(db_url: str, settings: Settings, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    # A runtime that is never started: a started one (memory broker) would run in-process workers, sweepers
    # and an in-process Connect in this test process, against the same database as the processes under test.
    runtime = build_runtime(settings)
    api_port, connect_port = free_port(), free_port()
    queue = queue_name("tgo_e2e")
    env = process_env(
        db_url,
        runtime.settings.secret(),
        tmp_path / "d",
        TGO_BROKER_URL="amqp://guest:guest@127.0.0.1:5672/",
        TGO_QUEUE_NAME=queue,
        TGO_CONNECT_URL=f"http://127.0.0.1:{connect_port}",
        TGO_BUSINESS_URL=f"http://127.0.0.1:{api_port}",
        TGO_RUN_WORKERS="false",
        TGO_SWEEPER_INTERVAL_SECONDS="1",
        TGO_SWEEPER_STALE_SECONDS="5",
        TGO_DELIVERY_CLAIM_SECONDS="5",
        TGO_SENDER_RATE_PER_SECOND="5000",
        TGO_LOG_LEVEL="WARNING",
        TGO_CONNECT_EVENT_INTERVAL_SECONDS="0.5",
    )
    procs: list[Proc] = []

    def spawn(name: str, *args: str) -> Proc:
        p = Proc(name, list(args), env, tmp_path).start()
        procs.append(p)
        return p

    connect = spawn("connect", "connect", "serve", "--port", str(connect_port))
    api = spawn("api", "serve", "--port", str(api_port))
    wait_http(f"http://127.0.0.1:{connect_port}/connect/healthz", proc=connect)
    wait_http(f"http://127.0.0.1:{api_port}/healthz", proc=api)
    async with runtime.db.session_scope() as s:
        tenant = await create_tenant(s, slug="acme", domain="acme.localhost")
        _, key = await create_api_key(s, tenant.id, name="e2e", scopes="*")
    cc = ConnectAdminClient.over_http(env["TGO_CONNECT_URL"], runtime.settings.secret())
    await cc.create_account(OWNER, name="Owner", verified=True)
    await cc.create_account(RECIPIENT, name="Recipient", verified=True)
    http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{api_port}", headers={"X-Api-Key": key}, timeout=30)
    num = (await http.post("/api/v1/sender-numbers", json={"phone": OWNER})).json()
    inbox = await cc.inbox(OWNER)
    import re

    found = re.search(r"\b(\d{6})\b", max(inbox, key=lambda m: m.id).content or "")
    assert found is not None
    otp = found.group(1)
    assert (await http.post(f"/api/v1/sender-numbers/{num['id']}/verify", json={"otp": otp})).json()[
        "can_send"
    ]
    try:
        yield {"http": http, "spawn": spawn, "db": runtime.db, "connect": cc, "env": env}
    finally:
        await http.aclose()
        await cc.aclose()
        try:
            stop_all(procs)
        finally:
            await runtime.close()
            await delete_queues(queue)


async def send_many(http: httpx.AsyncClient, n: int) -> list[int]:
    sem = asyncio.Semaphore(24)

    async def one(i: int) -> int:
        async with sem:
            r = await http.post(
                "/api/v1/messages",
                json={"sender_phone": OWNER, "to_phone": RECIPIENT, "type": "text", "content": f"m{i}"},
            )
            assert r.status_code == 201, r.text
            return int(r.json()["id"])

    return list(await asyncio.gather(*(one(i) for i in range(n))))


async def counts(db: Database) -> dict[str, int]:
    async with db.session_scope() as s:
        rows = (await s.execute(text("SELECT status, count(*) FROM messages GROUP BY status"))).all()
    return {r[0]: int(r[1]) for r in rows}


async def wait_all_delivered(db: Database, n: int, timeout: float, procs: Sequence[Proc] = ()) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    c: dict[str, int] = {}
    while loop.time() < deadline:
        c = await counts(db)
        if c.get("delivered", 0) == n:
            return
        await asyncio.sleep(0.5)
    logs = "\n".join(p.tail(15) for p in procs)
    raise AssertionError(f"not all delivered: {c}\n{logs}")


async def inbox_duplicates(db: Database) -> tuple[int, int]:
    async with db.session_scope() as s:
        total = await s.scalar(
            text("SELECT count(*) FROM connect_inbox_messages WHERE business_message_id LIKE 'msg-%'")
        )
        dupes = await s.scalar(
            text(
                "SELECT count(*) FROM (SELECT business_message_id FROM connect_inbox_messages "
                "GROUP BY business_message_id HAVING count(*) > 1) d"
            )
        )
    return int(total or 0), int(dupes or 0)


async def test_thousand_messages_through_rabbitmq_and_a_worker_process(stack: dict[str, Any]) -> None:
    worker = stack["spawn"]("worker", "worker")
    ids = await send_many(stack["http"], 1000)
    assert len(set(ids)) == 1000
    await wait_all_delivered(stack["db"], 1000, timeout=180, procs=[worker])
    total, dupes = await inbox_duplicates(stack["db"])
    assert (total, dupes) == (1000, 0)


async def test_worker_sigkill_mid_batch_loses_and_duplicates_nothing(stack: dict[str, Any]) -> None:
    first = stack["spawn"]("worker-1", "worker")
    ids = await send_many(stack["http"], 400)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while (await counts(stack["db"])).get("delivered", 0) < 40 and loop.time() < deadline:
        await asyncio.sleep(0.1)
    first.kill()  # SIGKILL: in-flight jobs unacknowledged, claims left behind
    delivered_at_kill = (await counts(stack["db"])).get("delivered", 0)
    assert delivered_at_kill < 400, "the batch finished before the kill; nothing was tested"
    second = stack["spawn"]("worker-2", "worker")
    await wait_all_delivered(stack["db"], len(ids), timeout=120, procs=[second])
    total, dupes = await inbox_duplicates(stack["db"])
    assert (total, dupes) == (400, 0)


async def test_number_becomes_active_by_itself_after_tgo_connect_account_verify(
    stack: dict[str, Any],
) -> None:
    """Issue 3's cross-process flow: Connect in its own process, the event over real HTTP."""
    import re
    import subprocess
    import sys
    import time

    http, cc = stack["http"], stack["connect"]
    phone = "+201001187189"
    await cc.create_account(phone, name="Unverified owner", verified=False)
    num = (await http.post("/api/v1/sender-numbers", json={"phone": phone})).json()
    found = re.search(r"\b(\d{6})\b", max(await cc.inbox(phone), key=lambda m: m.id).content or "")
    assert found is not None
    otp = found.group(1)
    body = (await http.post(f"/api/v1/sender-numbers/{num['id']}/verify", json={"otp": otp})).json()
    assert (body["status"], body["verification_status"]) == ("pending_account_verification",) * 2
    env = stack["env"]
    done = subprocess.run(
        [sys.executable, "-m", "tgo", "connect", "account", "verify", phone, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    started = time.monotonic()
    while time.monotonic() - started < 5:
        body = (await http.get(f"/api/v1/sender-numbers/{num['id']}")).json()
        if body["status"] == "active":
            break
        await asyncio.sleep(0.1)
    assert (body["status"], body["verification_status"], body["can_send"]) == ("active", "verified", True)
