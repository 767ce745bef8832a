"""`make bench`: every benchmark in one run, side by side (this machine is shared and noisy, so the figures
that matter are the ratios taken in the same run). Writes bench/results/<UTC timestamp>.json and .png and
prints a table. Environment knobs (defaults in brackets): BENCH_WARMUP_S [5], BENCH_DURATION_S [15],
BENCH_E2E_N [20000], BENCH_E2E_TIMEOUT_S [150], BENCH_E2E_WORKERS [1,2,4], BENCH_READ_SIZES [100000,1000000],
BENCH_INBOUND_N [10000], BENCH_SMPP_N [5000], BENCH_SMPP_WORKERS [1,2], BENCH_SKIP (comma list of: ceiling,
postgres, e2e, reads, upload, inbound, sqlite, jasmin, smpp)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil

from bench import report
from bench.cpu import backend_cpu, backends_spent, process_cpu
from bench.load import Load, measure, wrk_version
from bench.sampler import RssSampler
from bench.stack import (
    ROOT,
    SEND_BODY,
    Proc,
    Stack,
    create_database,
    drop_database,
    free_port,
    postgres_stack,
    sqlite_stack,
    wait_http,
)

RESULTS = ROOT / "bench" / "results"
WARMUP = float(os.environ.get("BENCH_WARMUP_S", "5"))
DURATION = float(os.environ.get("BENCH_DURATION_S", "15"))
E2E_N = int(os.environ.get("BENCH_E2E_N", "20000"))
E2E_TIMEOUT = float(os.environ.get("BENCH_E2E_TIMEOUT_S", "150"))
E2E_WORKERS = [int(x) for x in os.environ.get("BENCH_E2E_WORKERS", "1,2,4").split(",") if x]
READ_SIZES = [int(x) for x in os.environ.get("BENCH_READ_SIZES", "100000,1000000").split(",") if x]
SKIP = {x.strip() for x in os.environ.get("BENCH_SKIP", "").split(",") if x.strip()}
INBOUND_N = int(os.environ.get("BENCH_INBOUND_N", "10000"))  # replies posted to Connect (issue 18)
CONNECTIONS = 64


def log(msg: str) -> None:
    print(f"[bench {datetime.now(UTC):%H:%M:%S}] {msg}", flush=True)


def attempt(results: dict[str, Any], key: str, fn: Callable[[], Any]) -> Any:
    """Run one benchmark; a failure is recorded in the results, not fatal to the run."""
    if key in SKIP or any(part in SKIP for part in key.split("_")):
        log(f"{key}: skipped")
        return None
    log(f"{key} ...")
    t0 = time.monotonic()
    try:
        value = fn()
    except Exception as exc:
        traceback.print_exc()
        value = {"error": f"{type(exc).__name__}: {exc}"[:2000]}
    results[key] = value
    log(f"{key} done in {time.monotonic() - t0:.0f} s")
    return value


def send_load(stack: Stack) -> Load:
    return Load(
        stack.api_url,
        "/api/v1/messages",
        "POST",
        SEND_BODY,
        {"Content-Type": "application/json", "X-Api-Key": stack.api_key},
        connections=CONNECTIONS,
    )


def _version(cmd: list[str]) -> str | None:
    with contextlib.suppress(Exception):
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    return None


def machine() -> dict[str, Any]:
    cpu_model = None
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    packages = ["litestar", "msgspec", "uvicorn", "uvloop", "httptools", "sqlalchemy", "asyncpg", "aiosqlite"]
    packages += ["taskiq", "taskiq-aio-pika", "httpx", "psutil"]
    return {
        "hostname": platform.node(),
        "platform": platform.platform(),
        "cpu_model": cpu_model,
        "cpus_logical": psutil.cpu_count(),
        "memory_mb": round(psutil.virtual_memory().total / 2**20),
        "load_average_at_start": os.getloadavg(),
        "python": sys.version.split()[0],
        "packages": {p: _safe_version(p) for p in packages},
        "postgres": _version(["psql", "--version"]),
        "rabbitmq": _version(["rabbitmqctl", "version"]),
        "redis": _version(["redis-server", "--version"]),
        "wrk": wrk_version(),
        "git_commit": _version(["git", "-C", str(ROOT), "rev-parse", "HEAD"]),
    }


def _safe_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def ceiling(workdir: Path, processes: int = 1) -> dict[str, Any]:
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    argv = [sys.executable, "-m", "bench.ceiling_app", "--port", str(port), "--workers", str(processes)]
    proc = Proc("ceiling", argv, env, workdir).start()
    try:
        wait_http(f"http://127.0.0.1:{port}/", proc)
        if processes > 1:
            time.sleep(2.0)
        load = Load(
            f"http://127.0.0.1:{port}",
            "/api/v1/messages",
            "POST",
            SEND_BODY,
            {"Content-Type": "application/json", "X-Api-Key": "tgo_unused"},
            connections=CONNECTIONS,
        )
        return measure(load, WARMUP, DURATION)
    finally:
        proc.stop()


def send_measured(stack: Stack) -> dict[str, Any]:
    """The send load; with it the CPU each process spent per accepted message (API — all its processes —,
    Connect, the PostgreSQL backends of the benchmark's database, and the workers if any run)."""
    sources = {"api": stack.procs["api"].rss_bytes}
    for p in stack.workers():
        sources[p.name] = p.rss_bytes
    if "connect" in stack.procs:
        sources["connect"] = stack.procs["connect"].rss_bytes
    cpu0 = {k: process_cpu(stack.procs[k].pid) for k in sources}
    pg0 = backend_cpu(stack.database_name)
    batches0 = _send_batches(stack)
    with RssSampler(sources) as sampler:
        result = measure(send_load(stack), WARMUP, DURATION)
    cpu1 = {k: process_cpu(stack.procs[k].pid) for k in sources}
    pg1 = backend_cpu(stack.database_name)
    batches1 = _send_batches(stack)
    if batches1[1] > batches0[1]:  # the group commit's mean batch over warm-up and run (its metric)
        result["send_batch_mean"] = round((batches1[0] - batches0[0]) / (batches1[1] - batches0[1]), 1)
    result["rss_peak_mb"] = sampler.peaks_mb()
    total = result["requests"]  # CPU over warm-up + run, per request of the run (an upper bound)
    per = {k: (cpu1[k] - cpu0[k]) * 1000 / max(total, 1) for k in sources}
    if stack.database_name is not None:
        # Backends that started during the run count from zero; ones that ended are lost (the pools keep
        # their connections, so there are none of those in practice).
        per["postgres"] = backends_spent(pg0, pg1) * 1000 / max(total, 1)
    result["cpu_ms_per_request_incl_warmup"] = {k: round(v, 3) for k, v in per.items()}
    # The figure: the accept path's processes together (no worker runs during this load).
    accept = [k for k in per if k in ("api", "connect", "postgres")]
    result["cpu_ms_per_accepted_total"] = round(sum(per[k] for k in accept), 3)
    return result


def _send_batches(stack: Stack) -> tuple[float, float]:
    """(sends, batches) so far, from the API's ``tgo_send_batch_size`` histogram (0, 0 without it)."""
    import httpx

    sums = {"tgo_send_batch_size_sum": 0.0, "tgo_send_batch_size_count": 0.0}
    try:
        text = httpx.get(f"{stack.api_url}/metrics", timeout=10).text
    except httpx.HTTPError:
        return 0.0, 0.0
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in sums:
            sums[name] += float(value)
    return sums["tgo_send_batch_size_sum"], sums["tgo_send_batch_size_count"]


def main() -> int:
    started = datetime.now(UTC)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    RESULTS.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix=f"tgo-bench-{stamp}-"))
    results: dict[str, Any] = {
        "started_at": started.isoformat().replace("+00:00", "Z"),
        "machine": machine(),
        "settings": {
            "connections": CONNECTIONS,
            "warmup_s": WARMUP,
            "duration_s": DURATION,
            "load_generator": "wrk (separate process), bench/load.lua",
            "api_processes": "1 (send_postgres, send_sqlite, ceiling) and 2 (send_postgres_2, ceiling_2)",
            "e2e_n": E2E_N,
            "e2e_workers": E2E_WORKERS,
            "read_sizes": READ_SIZES,
            "note": "rate limits per key/tenant and the per-sender delivery pace are lifted (bench/stack.py)",
        },
    }
    log(f"workdir {workdir}")
    latencies: dict[str, list[float]] = {}

    attempt(results, "ceiling", lambda: ceiling(workdir / "ceiling"))
    attempt(results, "ceiling_2", lambda: ceiling(workdir / "ceiling-2", processes=2))

    if "postgres" not in SKIP:
        db_name = f"tgo_bench_{stamp.lower()}"
        create_database(db_name)
        stack: Stack | None = None
        pg = None
        try:
            log(f"PostgreSQL stack (database {db_name}) ...")
            stack = postgres_stack(workdir / "postgres", db_name)
            from bench.db import PgDirect

            pg = PgDirect(db_name)
            # Accept only (no worker runs): the send path's own cost, at 1 and at 2 API processes
            # (`tgo serve --workers 2`, the scale-out default); the workers' cost is the end-to-end runs'.
            stack.set_workers(0)
            attempt(results, "send_postgres", lambda: send_measured(stack))
            stack.restart_api(2)
            attempt(results, "send_postgres_2", lambda: send_measured(stack))
            stack.restart_api(1)
            if "e2e" not in SKIP:
                from bench.e2e import discard_backlog, run_e2e

                log(f"e2e: {discard_backlog(stack, pg)} messages of the accept-only phases retired")

                results["e2e"] = []
                # N = BENCH_E2E_N unless the measured send rate cannot accept that many in about a third of
                # the phase's time budget; then fewer, recorded as such (the run must stay under 15 minutes).
                rate = float((results.get("send_postgres") or {}).get("ok_per_s") or 0)
                e2e_n = min(E2E_N, max(500, int(rate * E2E_TIMEOUT / 3))) if rate else E2E_N
                results["settings"]["e2e_n_used"] = e2e_n
                if e2e_n < E2E_N:
                    log(f"e2e: {e2e_n} messages instead of {E2E_N} (send path accepts {rate:.0f}/s)")
                for n_workers in E2E_WORKERS:
                    r = attempt(
                        results,
                        f"e2e_{n_workers}",
                        functools.partial(run_e2e, stack, pg, n_workers, e2e_n, E2E_TIMEOUT),
                    )
                    results.pop(f"e2e_{n_workers}", None)
                    if r is not None:
                        latencies[f"{n_workers} worker(s)"] = r.pop("_latencies", [])
                        results["e2e"].append({"workers": n_workers, **r})
                # Not saturated: 2 connections, so accept→delivered is the pipeline's own latency.
                light = attempt(
                    results, "e2e_light", lambda: run_e2e(stack, pg, 2, 300, E2E_TIMEOUT, connections=2)
                )
                if isinstance(light, dict) and "_latencies" in light:
                    latencies["2 workers, 2 connections (light)"] = light.pop("_latencies")
            stack.set_workers(1)
            if "upload" not in SKIP:
                from bench.upload import upload_growth

                attempt(results, "upload", lambda: upload_growth(stack, workdir))
            if "reads" not in SKIP:
                from bench.reads import BulkTenant

                def reads() -> dict[str, Any]:
                    stack.set_workers(0)
                    bulk = BulkTenant(stack, pg)
                    out: dict[str, Any] = {"load_seconds": {}}
                    for size in READ_SIZES:
                        label = "1m" if size == 1_000_000 else "100k" if size == 100_000 else str(size)
                        log(f"reads: loading to {size} messages ...")
                        out["load_seconds"][label] = bulk.grow_to(size)
                        out[label] = bulk.measure_reads(2, max(4.0, DURATION / 3), 8)
                    return out

                attempt(results, "reads", reads)
            if "inbound" not in SKIP:
                from bench.inbound import measure

                stack.set_workers(1)
                attempt(
                    results,
                    "inbound",
                    lambda: asyncio.run(measure(stack, INBOUND_N, 200, 64, 600.0)),
                )
        except Exception as exc:
            traceback.print_exc()
            results["postgres_error"] = f"{type(exc).__name__}: {exc}"[:2000]
        finally:
            if stack is not None:
                stack.stop()
            if pg is not None:
                pg.close()
            drop_database(db_name)

    def sqlite() -> dict[str, Any]:
        stack = sqlite_stack(workdir / "sqlite")
        try:
            return send_measured(stack)
        finally:
            stack.stop()

    attempt(results, "send_sqlite", sqlite)

    def jasmin() -> dict[str, Any]:
        from bench.peer import jasmin_send

        return jasmin_send(workdir / "jasmin", WARMUP, DURATION, CONNECTIONS)

    attempt(results, "jasmin", jasmin)

    def smpp() -> dict[str, Any]:
        # SMS over SMPP to the bench's SMSC simulator: ours and Jasmin's egress, same run (issue 16).
        from bench.smpp import smpp_both

        return smpp_both(workdir / "smpp")

    attempt(results, "smpp", smpp)

    sp = results.get("send_postgres") or {}
    results["memory"] = {
        "api_rss_peak_mb": (sp.get("rss_peak_mb") or {}).get("api"),
        "worker_rss_peak_mb": max(
            (v for k, v in (sp.get("rss_peak_mb") or {}).items() if k.startswith("worker")), default=None
        ),
        "connect_rss_peak_mb": (sp.get("rss_peak_mb") or {}).get("connect"),
        "upload_rss_growth_mb": (results.get("upload") or {}).get("api_rss_growth_mb"),
    }
    results["ratios"] = report.ratios(results)
    finished = datetime.now(UTC)
    results["finished_at"] = finished.isoformat().replace("+00:00", "Z")
    results["total_seconds"] = round((finished - started).total_seconds(), 1)
    json_path = RESULTS / f"{stamp}.json"
    png_path = RESULTS / f"{stamp}.png"
    json_path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    try:
        report.chart(results, latencies, png_path)
    except Exception:
        traceback.print_exc()
    print()
    print(report.table(results))
    print()
    log(
        f"results: {json_path.relative_to(ROOT)} and {png_path.relative_to(ROOT)} ({results['total_seconds']} s)"
    )
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
