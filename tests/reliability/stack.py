"""A scaled-out stack for the fault tests: PostgreSQL (a database of its own), a real RabbitMQ with a unique
queue, `tgo serve` (API, TGO_RUN_WORKERS=false), `tgo worker` processes and `tgo connect serve`, each in its
own process, TGO_CONNECT_URL/TGO_BUSINESS_URL pointing at each other."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from tests.fixtures.amqp import delete_queues, queue_name
from tests.fixtures.processes import Proc, free_port, process_env, stop_all, wait_http
from tgo.apikeys.service import create_api_key
from tgo.channels.connect_admin import ConnectAdminClient
from tgo.runtime import Runtime
from tgo.tenants.service import create_tenant

OWNER, RECIPIENT = "+201001187188", "+201010000000"
FINAL = ("delivered", "read", "failed")


@dataclass
class Stack:
    env: dict[str, str]
    tmp: Path
    runtime: Runtime
    api_port: int
    connect_port: int
    key: str = ""
    procs: dict[str, Proc] = field(default_factory=dict)

    def spawn(self, name: str, *args: str) -> Proc:
        p = Proc(name, list(args), self.env, self.tmp).start()
        self.procs[name] = p
        return p

    async def start_api(self) -> Proc:
        api = self.spawn("api", "serve", "--port", str(self.api_port))
        # In a thread: the test's event loop keeps sending (and killing workers) while a process boots.
        await asyncio.to_thread(wait_http, f"http://127.0.0.1:{self.api_port}/healthz", 60, api)
        return api

    async def start_connect(self) -> Proc:
        c = self.spawn("connect", "connect", "serve", "--port", str(self.connect_port))
        await asyncio.to_thread(wait_http, f"http://127.0.0.1:{self.connect_port}/connect/healthz", 60, c)
        return c

    def http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{self.api_port}",
            headers={"X-Api-Key": self.key},
            timeout=httpx.Timeout(30.0, connect=5.0),
            limits=httpx.Limits(max_connections=32),
        )

    async def sql(self, query: str) -> list[Any]:
        for attempt in range(30):
            try:
                async with self.runtime.db.session_scope() as s:
                    return list((await s.execute(text(query))).all())
            except Exception:
                if attempt == 29:
                    raise
                await asyncio.sleep(1)
        return []

    def logs(self) -> str:
        return "\n".join(f"--- {n}\n{p.tail(15)}" for n, p in self.procs.items())

    def stop(self) -> None:
        stop_all(self.procs.values())


async def build_stack(db_url: str, runtime: Runtime, tmp: Path, **extra_env: str) -> AsyncIterator[Stack]:
    api_port, connect_port = free_port(), free_port()
    queue = queue_name("tgo_rel")
    env = process_env(
        db_url,
        runtime.settings.secret(),
        tmp / "d",
        TGO_BROKER_URL="amqp://guest:guest@127.0.0.1:5672/",
        TGO_QUEUE_NAME=queue,
        TGO_CONNECT_URL=f"http://127.0.0.1:{connect_port}",
        TGO_BUSINESS_URL=f"http://127.0.0.1:{api_port}",
        TGO_RUN_WORKERS="false",
        TGO_SWEEPER_INTERVAL_SECONDS="1",
        TGO_SWEEPER_STALE_SECONDS="15",
        TGO_DELIVERY_CLAIM_SECONDS="5",
        TGO_SENDER_RATE_PER_SECOND="5000",
        TGO_API_RATE_LIMIT_PER_KEY="100000/second",
        TGO_API_RATE_LIMIT_PER_TENANT="100000/second",
        TGO_LOG_LEVEL="WARNING",
        # API, Connect, two workers and the test's reader, each up to 2 x 6: well under max_connections=100
        # even while other suites share the server.
        TGO_DATABASE_POOL_SIZE="6",
        TGO_CONNECT_EVENT_INTERVAL_SECONDS="0.5",
    )
    env.update(extra_env)
    st = Stack(env, tmp, runtime, api_port, connect_port)
    try:
        await st.start_connect()
        await st.start_api()
        async with runtime.db.session_scope() as s:
            tenant = await create_tenant(s, slug="acme", domain="acme.localhost")
            _, st.key = await create_api_key(s, tenant.id, name="rel", scopes="*")
        cc = ConnectAdminClient.over_http(env["TGO_CONNECT_URL"], runtime.settings.secret())
        try:
            await cc.create_account(OWNER, name="Owner", verified=True)
            await cc.create_account(RECIPIENT, name="Recipient", verified=True)
            async with st.http() as http:
                num = (await http.post("/api/v1/sender-numbers", json={"phone": OWNER})).json()
                inbox = await cc.inbox(OWNER)
                found = re.search(r"\b(\d{6})\b", max(inbox, key=lambda m: m.id).content or "")
                assert found
                r = await http.post(
                    f"/api/v1/sender-numbers/{num['id']}/verify", json={"otp": found.group(1)}
                )
                assert r.json()["can_send"], r.text
        finally:
            await cc.aclose()
        yield st
    finally:
        try:
            st.stop()
        finally:
            await delete_queues(queue)


@dataclass
class SendLog:
    """Every attempt: ``ok`` (2xx, with the id), ``refused`` (an HTTP error), ``unknown`` (no response)."""

    ok: dict[str, int] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    status_counts: dict[int, int] = field(default_factory=dict)
    refused_without_retry_after: int = 0


async def send_until_accepted(http: httpx.AsyncClient, n: int, log: SendLog, concurrency: int = 24) -> None:
    """Send ``n`` messages, each retried (with a fresh tag per attempt) until one attempt gets a 2xx."""
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with sem:
            for attempt in range(600):
                tag = f"rel-{i}-a{attempt}"
                try:
                    r = await http.post(
                        "/api/v1/messages",
                        json={"sender_phone": OWNER, "to_phone": RECIPIENT, "type": "text", "content": tag},
                    )
                except httpx.HTTPError:
                    log.unknown.append(tag)
                    await asyncio.sleep(0.5)
                    continue
                log.status_counts[r.status_code] = log.status_counts.get(r.status_code, 0) + 1
                if 200 <= r.status_code < 300:
                    log.ok[tag] = int(r.json()["id"])
                    return
                log.refused.append(tag)
                if r.status_code in (429, 503) and "retry-after" not in r.headers:
                    log.refused_without_retry_after += 1
                await asyncio.sleep(0.5)
            raise AssertionError(f"message {i} never accepted")

    await asyncio.gather(*(one(i) for i in range(n)))


async def outcome(st: Stack, log: SendLog) -> dict[str, Any]:
    """accepted / delivered / failed / lost / duplicated, plus the API's promise per attempt."""
    rows = await st.sql("SELECT id, status, content FROM messages WHERE content LIKE 'rel-%'")
    by_tag = {r[2]: (int(r[0]), r[1]) for r in rows}
    accepted_ids = set(log.ok.values())
    status = {r[0]: r[1] for r in by_tag.values()}
    ok_without_row = sum(1 for tag, mid in log.ok.items() if by_tag.get(tag, (None,))[0] != mid)
    refused_with_row = sum(1 for tag in log.refused if tag in by_tag)
    dup_rows = await st.sql(
        "SELECT business_message_id, count(*) FROM connect_inbox_messages "
        "WHERE business_message_id LIKE 'msg-%' GROUP BY business_message_id HAVING count(*) > 1"
    )
    attempts = await st.sql("SELECT count(*) FROM connect_delivery_attempts")
    inbox = await st.sql("SELECT count(*) FROM connect_inbox_messages WHERE business_message_id LIKE 'msg-%'")
    return {
        "accepted": len(accepted_ids),
        "delivered": sum(1 for i in accepted_ids if status.get(i) in ("delivered", "read")),
        "failed": sum(1 for i in accepted_ids if status.get(i) == "failed"),
        "lost": sum(1 for i in accepted_ids if status.get(i) not in FINAL),
        "duplicated": len(dup_rows),
        "inbox_rows": int(inbox[0][0]),
        "connect_delivery_attempts": int(attempts[0][0]),
        "ok_without_row": ok_without_row,
        "refused_with_row": refused_with_row,
        "no_response_attempts": len(log.unknown),
        "rows_from_no_response_attempts": sum(1 for t in log.unknown if t in by_tag),
        "refused_without_retry_after": log.refused_without_retry_after,
        "http_statuses": dict(sorted(log.status_counts.items())),
    }


async def wait_final(st: Stack, n: int, timeout: float) -> dict[str, int]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    counts: dict[str, int] = {}
    while loop.time() < deadline:
        rows = await st.sql(
            "SELECT status, count(*) FROM messages WHERE content LIKE 'rel-%' GROUP BY status"
        )
        counts = {r[0]: int(r[1]) for r in rows}
        if sum(counts.get(s, 0) for s in FINAL) >= n:
            return counts
        await asyncio.sleep(1)
    return counts
