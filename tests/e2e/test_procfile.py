"""docs/Procfile, the deployment guide's scale-out set, started with honcho: `tgo serve --workers 2`,
`tgo worker` and `tgo connect serve` on a PostgreSQL database of their own and a RabbitMQ queue of their
own. A burst of messages goes through and is delivered; the database refuses more connections than the
guide's arithmetic (processes x 2 x TGO_DATABASE_POOL_SIZE), so a pool larger than documented fails the
sends; SIGTERM stops every process cleanly."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from honcho.environ import parse as parse_env
from sqlalchemy.engine import make_url

from tests.fixtures.amqp import delete_queues, queue_name
from tests.fixtures.databases import PG_URL, _dsn
from tests.fixtures.processes import free_port, wait_http
from tgo.apikeys.service import create_api_key
from tgo.channels.connect_admin import ConnectAdminClient
from tgo.config import Settings
from tgo.migrate import upgrade
from tgo.tenants.service import create_tenant
from tgo.wiring import build_runtime

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

ROOT = Path(__file__).resolve().parents[2]
PROCFILE = ROOT / "docs" / "Procfile"
EXAMPLE_ENV = ROOT / "docs" / "scale-out.env"
HONCHO = Path(sys.executable).with_name("honcho")
OWNER, RECIPIENT = "+201001187188", "+201010000000"
POOL_SIZE = 2
# The Procfile's processes: `tgo serve --workers 2` (2), `tgo worker` (1), `tgo connect serve` (1).
PROCESSES = 4
SECRET = "procfile-test-secret-" + "x" * 24


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(_dsn(PG_URL), timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
async def database() -> AsyncIterator[dict[str, str]]:
    """A database owned by a role of its own (superusers ignore connection limits) that accepts exactly
    the guide's number of connections."""
    name = f"tgo_procfile_{uuid.uuid4().hex[:8]}"
    limit = PROCESSES * 2 * POOL_SIZE
    await _admin(f'CREATE ROLE "{name}" LOGIN')
    await _admin(f'CREATE DATABASE "{name}" OWNER "{name}" CONNECTION LIMIT {limit}')
    base = make_url(PG_URL).set(database=name)
    urls = {
        "app": base.set(username=name).render_as_string(hide_password=False),
        "admin": base.render_as_string(hide_password=False),  # the test's own checks, outside the limit
    }
    try:
        await asyncio.to_thread(upgrade, urls["app"])
        yield urls
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await _admin(f'DROP ROLE IF EXISTS "{name}"')


def _env_file(tmp: Path, database_url: str, queue: str) -> tuple[Path, dict[str, str]]:
    """docs/scale-out.env with this test's database, queue, ports and directories."""
    settings = parse_env(EXAMPLE_ENV.read_text())
    api_port, connect_port = free_port(), free_port()
    settings.update(
        TGO_DATABASE_URL=database_url,
        TGO_DATABASE_POOL_SIZE=str(POOL_SIZE),
        TGO_QUEUE_NAME=queue,
        API_PORT=str(api_port),
        CONNECT_PORT=str(connect_port),
        TGO_CONNECT_URL=f"http://127.0.0.1:{connect_port}",
        TGO_BUSINESS_URL=f"http://127.0.0.1:{api_port}",
        TGO_WORKER_METRICS_PORT=str(free_port()),
        TGO_MEDIA_DIR=str(tmp / "media"),
        TGO_DATA_DIR=str(tmp / "data"),
        TGO_LOG_LEVEL="WARNING",
        TGO_SHUTDOWN_TIMEOUT_SECONDS="3",
    )
    path = tmp / "scale-out.env"
    path.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
    return path, settings


def _stop(proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    """SIGTERM to honcho, which passes it on to each process (and SIGKILLs what is left after 5 s)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


async def _otp(cc: ConnectAdminClient) -> str:
    for _ in range(50):
        for m in sorted(await cc.inbox(OWNER), key=lambda m: m.id, reverse=True):
            found = re.search(r"\b(\d{6})\b", m.content or "")
            if found:
                return found.group(1)
        await asyncio.sleep(0.1)
    raise AssertionError("no OTP in the owner's inbox")


async def _deliver(http: httpx.AsyncClient, n: int) -> list[dict[str, Any]]:
    async def one(i: int) -> int:
        r = await http.post(
            "/api/v1/messages",
            json={"sender_phone": OWNER, "to_phone": RECIPIENT, "type": "text", "content": f"procfile {i}"},
        )
        assert r.status_code == 201, r.text
        return int(r.json()["id"])

    ids = await asyncio.gather(*(one(i) for i in range(n)))
    deadline = time.monotonic() + 30
    while True:
        bodies = [(await http.get(f"/api/v1/messages/{i}")).json() for i in ids]
        if all(b["status"] == "delivered" for b in bodies) or time.monotonic() > deadline:
            return bodies
        await asyncio.sleep(0.5)


async def test_procfile_scale_out_set_delivers_and_stops_cleanly(
    database: dict[str, str], tmp_path: Path
) -> None:
    queue = queue_name("tgo_procfile")
    env_file, settings = _env_file(tmp_path, database["app"], queue)
    api_url, connect_url = settings["TGO_BUSINESS_URL"], settings["TGO_CONNECT_URL"]
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TGO_")}
    environ.update(TGO_SECRET_KEY=SECRET, PATH=f"{HONCHO.parent}{os.pathsep}{environ.get('PATH', '')}")
    log = tmp_path / "honcho.log"
    started = time.monotonic()
    with log.open("wb") as out:
        honcho = subprocess.Popen(
            [str(HONCHO), "--no-colour", "-d", str(ROOT), "-f", str(PROCFILE), "-e", str(env_file), "start"],
            env=environ,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    # The test's own view of the database (a runtime that is never started: no workers in this process).
    runtime = build_runtime(
        Settings(database_url=database["admin"], secret_key=SECRET, broker_url="memory://")
    )
    cc = ConnectAdminClient.over_http(connect_url, SECRET.encode())
    try:
        for url in (f"{connect_url}/connect/healthz", f"{api_url}/healthz", f"{api_url}/readyz"):
            await asyncio.to_thread(wait_http, url, 90)
        async with runtime.db.session_scope() as s:
            tenant = await create_tenant(s, slug="acme", domain="acme.localhost")
            _, key = await create_api_key(s, tenant.id, name="procfile", scopes="*")
        # A superuser is never refused, but its connections count against the limit: give them back.
        await runtime.db.dispose()
        await cc.create_account(OWNER, name="Owner", verified=True)
        await cc.create_account(RECIPIENT, name="Recipient", verified=True)
        async with httpx.AsyncClient(base_url=api_url, headers={"X-Api-Key": key}, timeout=30) as http:
            num = (await http.post("/api/v1/sender-numbers", json={"phone": OWNER})).json()
            verified = await http.post(
                f"/api/v1/sender-numbers/{num['id']}/verify", json={"otp": await _otp(cc)}
            )
            assert verified.json()["can_send"], verified.text
            # A burst: every API process and the worker fill their pools; one connection more than the
            # guide's arithmetic would be refused (`too many connections`) and a send would be a 503.
            bodies = await _deliver(http, 40)
        assert [b["status"] for b in bodies] == ["delivered"] * 40, log.read_text(errors="replace")[-3000:]
        inbox = {m.business_message_id for m in await cc.inbox(RECIPIENT, limit=200)}
        assert {f"msg-{b['id']}" for b in bodies} <= inbox
    finally:
        await cc.aclose()
        await runtime.close()
        _stop(honcho)
        await delete_queues(queue)
    text = log.read_text(errors="replace")
    assert "SIGTERM received" in text, text[-3000:]
    # Each process stopped on the SIGTERM, before honcho's SIGKILL (rc=-9) five seconds later: `tgo worker` and
    # the supervisor of `tgo serve --workers 2` exit 0; a single uvicorn server (`tgo connect serve`) finishes
    # its graceful shutdown and then re-raises the SIGTERM it caught (rc=-15), as uvicorn does.
    for name in ("api", "worker", "connect"):
        stopped = re.search(rf"{name}\.1 stopped \(rc=(-?\d+)\)", text)
        assert stopped and stopped.group(1) in ("0", "-15"), f"{name} did not stop cleanly:\n{text[-3000:]}"
    assert "sending SIGKILL" not in text, text[-3000:]
    assert "too many connections" not in text, text[-3000:]
    assert time.monotonic() - started < 60
