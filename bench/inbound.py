"""Inbound benchmark (issue 18): replies posted to Connect by wrk (`POST /connect/v1/accounts/{phone}/messages`) from
many phones to one active sender number, all applied on the Business side (visible as unread messages in
the conversations). Real processes: `tgo connect serve` (accepts and pumps `message.received`), `tgo serve`
(receives and applies), PostgreSQL; CPU seconds per process and per received message.

    flock /work/coord/bench.lock .venv/bin/python -m bench.inbound [--messages 10000] [--phones 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil

from bench.cpu import backend_cpu, backends_spent, process_cpu
from bench.load import Load, run_wrk
from bench.stack import OWNER, ROOT, SECRET, Stack, create_database, drop_database, postgres_stack
from tgo.channels.connect_protocol import api_token


async def _make_phones(connect: httpx.AsyncClient, count: int) -> list[str]:
    phones = [f"+2010{20000000 + i:08d}" for i in range(count)]
    for phone in phones:
        r = await connect.post("/connect/v1/accounts", json={"phone": phone, "name": f"Bench {phone[-4:]}"})
        r.raise_for_status()
    return phones


def _post_all(
    connect_url: str, token: str, phones: list[str], total: int, concurrency: int
) -> dict[str, Any]:
    """Post ``total`` replies (phones in turn) with wrk, the load generator of the other benchmarks: a
    Python client spent ~0.7 of a core posting ~110 replies/s, as much CPU as Connect itself, on a 2-core
    machine. Returns wrk's summary (its ``ok`` counts the 201s it read)."""
    load = Load(
        url=connect_url,
        path=f"/connect/v1/accounts/{phones[0]}/messages",
        paths=[f"/connect/v1/accounts/{phone}/messages" for phone in phones],
        method="POST",
        body=json.dumps({"to_phone": OWNER, "type": "text", "content": "a reply from the bench"}),
        headers={"authorization": f"Bearer {token}", "content-type": "application/json"},
        connections=concurrency,
        threads=1,
        timeout_s=60,
    )
    return run_wrk(load, duration_s=600, limit_per_thread=total)


async def _written(dsn: str) -> int:
    """The replies Connect committed, once their number stands still (wrk stops reading at its limit; the
    posts then in flight are still answered, and count too)."""
    conn = await asyncpg.connect(dsn)
    try:
        last = -1
        while True:
            count = int(await conn.fetchval("SELECT count(*) FROM connect_sent_messages"))
            if count == last:
                return count
            last = count
            await asyncio.sleep(0.5)
    finally:
        await conn.close()


async def _applied(api: httpx.AsyncClient) -> int:
    """Inbound messages visible in the conversations (sum of unread counts; nothing is marked read)."""
    total, cursor = 0, None
    while True:
        params: dict[str, Any] = {"limit": 200}
        if cursor:
            params["cursor"] = cursor
        body = (await api.get("/api/v1/conversations", params=params)).json()
        total += int(sum(c["unread_count"] for c in body["data"]))
        cursor = body["next_cursor"]
        if not cursor:
            return total


async def measure(
    stack: Stack, messages: int, phones_count: int, concurrency: int, timeout: float
) -> dict[str, Any]:
    connect_url = stack.env["TGO_CONNECT_URL"]
    token = api_token(SECRET.encode())
    async with (
        httpx.AsyncClient(
            base_url=connect_url, headers={"authorization": f"Bearer {token}"}, timeout=60
        ) as connect,
        httpx.AsyncClient(base_url=stack.api_url, headers={"X-Api-Key": stack.api_key}, timeout=60) as api,
    ):
        phones = await _make_phones(connect, phones_count)
        # Linking follows the sender's activation after commit; wait until Connect takes a reply.
        for _ in range(100):
            r = await connect.post(
                f"/connect/v1/accounts/{phones[0]}/messages",
                json={"to_phone": OWNER, "type": "text", "content": "warm-up"},
            )
            if r.status_code == 201:
                break
            await asyncio.sleep(0.2)
        else:
            raise RuntimeError(f"Connect never took a reply: {r.status_code} {r.text}")
        while await _applied(api) < 1:
            await asyncio.sleep(0.1)
        pids = {"api": stack.procs["api"].pid, "connect": stack.procs["connect"].pid}
        dsn = stack.env["TGO_DATABASE_URL"].replace("+asyncpg", "")
        database = dsn.rsplit("/", 1)[-1]
        cpu_before = {k: process_cpu(pid) for k, pid in pids.items()}
        backends_before = backend_cpu(database)
        started = time.monotonic()
        wrk = await asyncio.to_thread(_post_all, connect_url, token, phones, messages, concurrency)
        posted_s = time.monotonic() - started
        accepted = await _written(dsn) - 1  # the warm-up
        seen = 0
        while seen < accepted + 1 and time.monotonic() - started < timeout:
            await asyncio.sleep(0.25)
            seen = await _applied(api)
        applied_s = time.monotonic() - started
        cpu = {k: process_cpu(pid) - cpu_before[k] for k, pid in pids.items()}
        cpu["postgres"] = backends_spent(backends_before, backend_cpu(database))
        applied = seen - 1  # the warm-up
    return {
        "benchmark": "inbound: replies posted to Connect, applied as conversations (PostgreSQL)",
        "at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "messages": messages,
        "phones": phones_count,
        "concurrency": concurrency,
        "accepted_by_connect": accepted,
        "refused_by_connect": wrk["non_2xx"] + wrk["socket_errors"] + wrk["timeouts"],
        "post_p50_ms": wrk["p50_ms"],
        "post_p99_ms": wrk["p99_ms"],
        "applied": applied,
        "all_visible": applied == accepted >= messages and wrk["non_2xx"] == 0,
        "post_seconds": round(posted_s, 2),
        "posted_per_second": round(accepted / posted_s, 1) if posted_s else None,
        "applied_seconds": round(applied_s, 2),
        "applied_per_second": round(applied / applied_s, 1) if applied_s else None,
        "cpu_seconds": {k: round(v, 2) for k, v in cpu.items()},
        "cpu_ms_per_message": {k: round(1000 * v / max(1, applied), 3) for k, v in cpu.items()},
        "cores": psutil.cpu_count(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--phones", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="tgo-bench-inbound-"))
    db_name = f"tgo_bench_inbound_{uuid.uuid4().hex[:8]}"
    create_database(db_name)
    stack: Stack | None = None
    try:
        stack = postgres_stack(workdir, db_name)
        result = asyncio.run(measure(stack, args.messages, args.phones, args.concurrency, args.timeout))
    finally:
        if stack is not None:
            stack.stop()
        drop_database(db_name)
    out = ROOT / "bench" / "results" / f"inbound-{result['at'].replace(':', '').replace('-', '')[:15]}Z.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0 if result["all_visible"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
