"""Operations end to end, each part in its own process: `tgo serve --workers 2`, `tgo worker` (RabbitMQ) and
`tgo connect serve`. After a few sends every /metrics tells the truth (the API's is the sum of its two
children, on every scrape), each process has /healthz and /readyz, the worker logs JSON lines only (an
exception is one line with its traceback) and a message's accept and delivery lines share a request id."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.test_scaleout import OWNER, RECIPIENT, counts
from tests.fixtures.amqp import delete_queues, queue_name
from tests.fixtures.processes import Proc, free_port, process_env, stop_all, wait_http
from tgo.apikeys.service import create_api_key
from tgo.channels.connect_admin import ConnectAdminClient
from tgo.config import Settings
from tgo.db import Database
from tgo.tenants.service import create_tenant
from tgo.wiring import build_runtime

pytestmark = [pytest.mark.postgres_only, pytest.mark.e2e]

SENDS = 6

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]  # (name, sorted labels) -> value


def samples(text: str) -> Samples:
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


async def scrape(url: str) -> Samples:
    # A new connection per scrape, so that the API's children take turns answering.
    async with httpx.AsyncClient(timeout=10) as c:
        r = await c.get(url)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].count("charset") == 1
    return samples(r.text)


@pytest.fixture
async def ops(db_url: str, settings: Settings, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    runtime = build_runtime(settings)
    api_port, connect_port, worker_metrics = free_port(), free_port(), free_port()
    queue = queue_name("tgo_e2e_ops")
    broker_url = "amqp://guest:guest@127.0.0.1:5672/"
    env = process_env(
        db_url,
        runtime.settings.secret(),
        tmp_path / "d",
        TGO_BROKER_URL=broker_url,
        TGO_QUEUE_NAME=queue,
        TGO_CONNECT_URL=f"http://127.0.0.1:{connect_port}",
        TGO_BUSINESS_URL=f"http://127.0.0.1:{api_port}",
        TGO_RUN_WORKERS="false",
        TGO_SWEEPER_INTERVAL_SECONDS="1",
        TGO_SENDER_RATE_PER_SECOND="5000",
        TGO_LOG_LEVEL="INFO",
        TGO_LOG_JSON="true",
        TGO_CONNECT_EVENT_INTERVAL_SECONDS="0.3",
        TGO_WORKER_METRICS_PORT=str(worker_metrics),
    )
    procs = [
        Proc("connect", ["connect", "serve", "--port", str(connect_port)], env, tmp_path).start(),
        Proc("api", ["serve", "--port", str(api_port), "--workers", "2"], env, tmp_path).start(),
        Proc("worker", ["worker"], env, tmp_path).start(),
    ]
    connect, api, worker = procs
    urls = {
        "connect": f"http://127.0.0.1:{connect_port}",
        "api": f"http://127.0.0.1:{api_port}",
        "worker": f"http://127.0.0.1:{worker_metrics}",
    }
    # A test-side publisher on the same queue, for a job that makes the worker log an exception.
    publisher = build_runtime(settings.model_copy(update={"broker_url": broker_url, "queue_name": queue}))
    http = None
    try:
        wait_http(f"{urls['connect']}/healthz", proc=connect, timeout=60)
        wait_http(f"{urls['api']}/healthz", proc=api, timeout=60)
        wait_http(f"{urls['worker']}/metrics", proc=worker, timeout=60)
        async with runtime.db.session_scope() as s:
            tenant = await create_tenant(s, slug="acme", domain="acme.localhost")
            _, key = await create_api_key(s, tenant.id, name="e2e", scopes="*")
        cc = ConnectAdminClient.over_http(urls["connect"], runtime.settings.secret())
        await cc.create_account(OWNER, name="Owner", verified=True)
        await cc.create_account(RECIPIENT, name="Recipient", verified=True)
        http = httpx.AsyncClient(base_url=urls["api"], headers={"X-Api-Key": key}, timeout=30)
        num = (await http.post("/api/v1/sender-numbers", json={"phone": OWNER})).json()
        otp = re.search(r"\b(\d{6})\b", max(await cc.inbox(OWNER), key=lambda m: m.id).content or "")
        assert otp is not None
        verified = await http.post(f"/api/v1/sender-numbers/{num['id']}/verify", json={"otp": otp.group(1)})
        assert verified.json()["can_send"], verified.text
        await cc.aclose()
        yield {
            "urls": urls,
            "key": key,
            "db": runtime.db,
            "worker": worker,
            "api": api,
            "publisher": publisher,
        }
    finally:
        if http is not None:
            await http.aclose()
        try:
            stop_all(procs)
        finally:
            await publisher.close()
            await runtime.close()
            await delete_queues(queue)


async def send(api_url: str, key: str, i: int) -> int:
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as c:  # a connection of its own per send
        r = await c.post(
            "/api/v1/messages",
            headers={"X-Api-Key": key, "X-Request-Id": f"ops-send-{i}"},
            json={"sender_phone": OWNER, "to_phone": RECIPIENT, "type": "text", "content": f"m{i}"},
        )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def wait_delivered(db: Database, n: int, procs: list[Proc]) -> None:
    for _ in range(240):
        if (await counts(db)).get("delivered", 0) == n:
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"not all delivered: {await counts(db)}\n" + "\n".join(p.tail(20) for p in procs))


async def test_metrics_health_and_logs_of_every_process(ops: dict[str, Any]) -> None:
    urls, key = ops["urls"], ops["key"]
    ids = [await send(urls["api"], key, i) for i in range(SENDS)]
    await wait_delivered(ops["db"], SENDS, [ops["worker"], ops["api"]])

    # The API: every scrape, whichever child answers, sees both children's sends and receipts.
    post_201 = {"method": "POST", "route": "/api/v1/messages", "status": "201"}
    series_counts = set()
    await scrape(f"{urls['api']}/metrics")  # the first scrape adds the /metrics route's own series
    for _ in range(8):
        api = await scrape(f"{urls['api']}/metrics")
        assert value(api, "tgo_messages_accepted_total") == SENDS
        assert value(api, "tgo_http_requests_total", **post_201) == SENDS
        assert value(api, "tgo_messages_delivered_total") == SENDS
        assert value(api, "tgo_message_accept_to_delivered_seconds_count") == SENDS
        series_counts.add(len([k for k in api if k[0].startswith("tgo_")]))
    assert len(series_counts) == 1, series_counts

    # The worker: its deliveries, attempts and the backlog it measured.
    worker = await scrape(f"{urls['worker']}/metrics")
    # A message's `sent` step is counted by the process that records it: the worker's result, or the API when
    # Connect's `delivered` event is applied first (queued -> sent -> delivered there). Once per message in all.
    assert value(worker, "tgo_messages_sent_total") + value(api, "tgo_messages_sent_total") == SENDS
    assert value(worker, "tgo_message_delivery_attempts_total", outcome="sent") == SENDS
    assert value(worker, "tgo_messages_failed_total", failure_code="connect_unavailable") == 0
    assert ("tgo_backlog", (("queue", "messages"),)) in worker
    assert ("tgo_db_connections_in_use", (("database", "main"),)) in worker

    # Connect: the same routes as `tgo serve`, and the deliveries it took counted by route.
    connect = await scrape(f"{urls['connect']}/metrics")
    accepted = value(
        connect, "tgo_http_requests_total", method="POST", route="/connect/v1/messages", status="201"
    )
    assert accepted == 1  # the sender number's OTP (the single-message route)
    batches = value(
        connect, "tgo_http_requests_total", method="POST", route="/connect/v1/messages:batch", status="200"
    )
    assert batches == SENDS  # one send at a time: each its own committed batch, one Connect call each
    async with httpx.AsyncClient(timeout=10) as c:
        for base in (urls["connect"], urls["api"]):
            assert (await c.get(f"{base}/healthz")).json() == {"status": "ok"}
        assert (await c.get(f"{urls['connect']}/connect/healthz")).status_code == 200
        ready = await c.get(f"{urls['connect']}/readyz")
        assert ready.status_code == 200 and ready.json() == {"status": "ok", "database": "ok"}
        ready = await c.get(f"{urls['api']}/readyz")
        assert ready.status_code == 200 and ready.json() == {"status": "ok", "database": "ok", "broker": "ok"}

    # A job that fails in the worker: its exception is one JSON line with the traceback.
    await ops["publisher"].broker.get().publish("messages.deliver", {"id": "not-a-number"})
    for _ in range(80):
        if "task_failed" in ops["worker"].log.read_text():
            break
        await asyncio.sleep(0.25)
    lines = [line for line in ops["worker"].log.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is JSON (no rich tracebacks)
    failed = [r for r in records if r["event"] == "task_failed"]
    assert len(failed) == 1 and failed[0]["exception"].startswith("Traceback (most recent call last):")
    assert "ValueError" in failed[0]["exception"] and failed[0]["payload"] == {"id": "not-a-number"}

    # The accept (API) and the delivery (worker) of each message share its request id.
    api_records = [json.loads(line) for line in ops["api"].log.read_text().splitlines() if line.strip()]
    for i, message_id in enumerate(ids):
        accepts = [r for r in api_records if r["event"] == "request" and r.get("message_id") == message_id]
        assert [r["request_id"] for r in accepts] == [f"ops-send-{i}"]
        deliveries = [
            r for r in records if r["event"] == "delivery_attempt" and r["message_id"] == message_id
        ]
        assert deliveries and {r["request_id"] for r in deliveries} == {f"ops-send-{i}"}
        assert "sent" in {r["outcome"] for r in deliveries}
    # uvicorn's own lines are JSON too.
    assert any(r.get("logger", "").startswith("uvicorn") for r in api_records)
