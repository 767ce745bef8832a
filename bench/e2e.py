"""End to end: N messages accepted through the API while `tgo worker` processes deliver them to Connect;
the time until all are delivered, delivered/s, and the accept→delivered latency from the messages table."""

from __future__ import annotations

import contextlib
import time
from typing import Any

from bench.cpu import backend_cpu, backends_spent, process_cpu
from bench.db import PgDirect
from bench.load import Load, run_wrk
from bench.stack import SEND_BODY, Stack

DONE = ("delivered", "read")


def wait_drained(pg: PgDirect, timeout: float) -> bool:
    """No message still on its way (queued or sent) — a previous phase's backlog is out of the picture."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pg.val("SELECT count(*) FROM messages WHERE status IN ('queued', 'sent')"):
            return True
        time.sleep(0.5)
    return False


def discard_backlog(stack: Stack, pg: PgDirect) -> int:
    """Retire what the accept-only phases left queued (no worker ran then), so the end-to-end runs measure
    their own messages: the rows are failed with ``bench_discarded`` and their delivery jobs purged from the
    broker's queue (otherwise the end-to-end phase first drains the accept phases' tens of thousands)."""
    import asyncio

    import aio_pika

    retired = pg.execute(
        "UPDATE messages SET status = 'failed', failure_code = 'bench_discarded', "
        "failure_reason = 'accept-only benchmark phase', failed_at = now(), updated_at = now() "
        "WHERE status = 'queued'"
    )
    amqp_url, queue = stack.env.get("TGO_BROKER_URL", ""), stack.env.get("TGO_QUEUE_NAME", "")

    async def purge() -> None:
        connection = await aio_pika.connect(amqp_url)
        async with connection:
            channel = await connection.channel()
            with contextlib.suppress(aio_pika.exceptions.ChannelClosed):
                await (await channel.get_queue(queue, ensure=True)).purge()

    if amqp_url.startswith("amqp") and queue:
        asyncio.run(purge())
    return int(retired.rsplit(" ", 1)[-1])


def run_e2e(
    stack: Stack, pg: PgDirect, workers: int, n: int, timeout: float, connections: int = 64
) -> dict[str, Any]:
    stack.set_workers(workers)
    drained = wait_drained(pg, timeout)
    start_id = int(pg.val("SELECT coalesce(max(id), 0) FROM messages"))
    load = Load(
        stack.api_url,
        "/api/v1/messages",
        "POST",
        SEND_BODY,
        {"Content-Type": "application/json", "X-Api-Key": stack.api_key},
        connections=connections,
        threads=min(2, connections),
    )
    procs = {"api": stack.procs["api"]}
    if "connect" in stack.procs:
        procs["connect"] = stack.procs["connect"]
    for p in stack.workers():
        procs[p.name] = p
    cpu0 = {k: process_cpu(p.pid) for k, p in procs.items()}
    pg0 = backend_cpu(stack.database_name)
    t0 = time.monotonic()
    accept = run_wrk(load, duration_s=timeout, limit_per_thread=n // load.threads)
    t_accepted = time.monotonic()
    accepted = int(pg.val("SELECT count(*) FROM messages WHERE id > $1", start_id))
    deadline = t0 + timeout * 2
    delivered_at_accept = int(
        pg.val("SELECT count(*) FROM messages WHERE id > $1 AND status = ANY($2)", start_id, list(DONE))
    )
    delivered = 0
    while time.monotonic() < deadline:
        delivered = int(
            pg.val("SELECT count(*) FROM messages WHERE id > $1 AND status = ANY($2)", start_id, list(DONE))
        )
        if delivered >= accepted:
            break
        time.sleep(0.25)
    t_done = time.monotonic()
    cpu = {k: process_cpu(p.pid) - cpu0[k] for k, p in procs.items()}
    cpu["postgres"] = backends_spent(pg0, backend_cpu(stack.database_name))
    rows = pg.fetch(
        "SELECT extract(epoch FROM delivered_at - queued_at) * 1000 AS ms FROM messages "
        "WHERE id > $1 AND delivered_at IS NOT NULL ORDER BY 1",
        start_id,
    )
    latencies = [float(r["ms"]) for r in rows]
    statuses = {
        r["status"]: int(r["c"])
        for r in pg.fetch(
            "SELECT status, count(*) AS c FROM messages WHERE id > $1 GROUP BY status", start_id
        )
    }
    wall = t_done - t0
    return {
        "workers": workers,
        "n_requested": n,
        "accepted": accepted,
        "delivered": delivered,
        "complete": delivered >= accepted,
        "backlog_drained_before": drained,
        "statuses": statuses,
        "accept_s": round(t_accepted - t0, 2),
        "accept_per_s": round(accepted / max(t_accepted - t0, 1e-9), 1),
        "accept_non_2xx": accept["non_2xx"],
        "accept_p99_ms": accept["p99_ms"],
        "all_delivered_s": round(wall, 2),
        "delivered_per_s": round(delivered / max(wall, 1e-9), 1),
        # After the last accept: how fast the workers drain what is left (delivery alone, no API load).
        "drain_per_s": round((delivered - delivered_at_accept) / max(t_done - t_accepted, 1e-9), 1)
        if delivered - delivered_at_accept >= 50
        else None,
        "connections": connections,
        "latency_ms": percentiles(latencies),
        # Everything each process spent from the first accept to the last delivery, per delivered message
        # (accepting included: the API's share is the send path's); "workers" sums the worker processes.
        "cpu_ms_per_delivered": cpu_per_delivered(cpu, delivered),
        "_latencies": latencies,
    }


def cpu_per_delivered(cpu: dict[str, float], delivered: int) -> dict[str, float]:
    per = {k: v * 1000 / max(delivered, 1) for k, v in cpu.items()}
    per["workers"] = sum(v for k, v in per.items() if k.startswith("worker-"))
    per["total"] = (
        sum(v for k, v in per.items() if not k.startswith("worker-") and k != "workers") + per["workers"]
    )
    return {k: round(v, 3) for k, v in per.items()}


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p90": None, "p99": None, "p999": None, "max": None}
    s = sorted(values)

    def at(p: float) -> float:
        return round(s[min(len(s) - 1, int(p / 100 * len(s)))], 1)

    return {"p50": at(50), "p90": at(90), "p99": at(99), "p999": at(99.9), "max": round(s[-1], 1)}
