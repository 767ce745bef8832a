"""Profile the embedded default under the send load: the `sqlite` step's stack (`tgo serve` with only
TGO_DATA_DIR set: SQLite, the in-process broker and workers, Connect in process), sampled by py-spy (all
threads, idle samples dropped) while wrk sends POST /api/v1/messages. Prints where the process's busy
samples go — accepting (HTTP, guard, validation, the group commit's write), the in-process delivery
(worker jobs, Connect's accept, its events back) and the rest — and the top functions by own samples.

    PY_SPY=/tmp/pyspy-sqlite/bin/py-spy .venv/bin/python -m bench.profile_sqlite [SECONDS]

py-spy is not a dependency of the project: install it in a throwaway venv (`python3 -m venv /tmp/pyspy &&
/tmp/pyspy/bin/pip install py-spy`) and point PY_SPY at it. BENCH_PROFILE_OUT=path keeps the raw stacks.
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import re
import subprocess
import sys
import tempfile
import threading
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import psutil

from bench.cpu import process_cpu
from bench.load import Load, run_wrk
from bench.stack import SEND_BODY, sqlite_stack

# (bucket, a substring of a frame) — the first rule that matches any frame of a stack, scanning the rules
# in order, names the stack's bucket. Delivery first: a worker job's stack runs through the same DB code.
RULES: list[tuple[str, str]] = [
    ("delivery: Connect's event pump and the Business receiver", "connect_network/events.py"),
    ("delivery: Connect's event pump and the Business receiver", "channels/connect_events.py"),
    ("delivery: Connect's event pump and the Business receiver", "connect_handlers.py"),
    ("delivery: worker job (claim, Connect deliver, record)", "messages/batch_delivery.py"),
    ("delivery: worker job (claim, Connect deliver, record)", "messages/delivery.py"),
    ("delivery: worker job (claim, Connect deliver, record)", "messages/tasks.py"),
    ("delivery: worker job (claim, Connect deliver, record)", "taskiq/"),
    ("delivery: worker job (claim, Connect deliver, record)", "connect_network/"),
    ("accept: group commit write (SQLite)", "messages/group_commit.py"),
    ("accept: group commit write (SQLite)", "messages/accept_batch.py"),
    ("accept: request (HTTP, guard, validation, service)", "litestar/"),
    ("accept: request (HTTP, guard, validation, service)", "uvicorn/"),
    ("accept: request (HTTP, guard, validation, service)", "tgo/http_guard.py"),
    ("other: periodic jobs (sweepers, reconcilers)", "worker/broker.py"),
    ("aiosqlite thread (sqlite3 calls, all callers)", "aiosqlite/core.py"),
]


def bucket(stack: str) -> str:
    for name, needle in RULES:
        if needle in stack:
            return name
    return "other"


def summarise(raw: Path, top: int = 40) -> None:
    buckets: Counter[str] = Counter()
    own: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        thread = next((f for f in frames[:2] if f.startswith("thread ")), "?")
        threads[re.sub(r"\(\d+\)|0x[0-9a-f]+", "", thread)] += n
        buckets[bucket(stack)] += n
        own[frames[-1]] += n
    total = total or 1
    print(f"busy samples: {total}")
    print("by thread:")
    for name, n in threads.most_common(8):
        print(f"  {100 * n / total:5.1f} %  {name}")
    print("by part:")
    for name, n in buckets.most_common():
        print(f"  {100 * n / total:5.1f} %  {name}")
    print("own samples, top functions:")
    for name, n in own.most_common(top):
        print(f"  {100 * n / total:5.1f} %  {name[:150]}")


def thread_cpu(pid: int) -> dict[int, float]:
    """User + system CPU seconds per thread of ``pid``."""
    return {t.id: t.user_time + t.system_time for t in psutil.Process(pid).threads()}


def main(seconds: float) -> None:
    py_spy = os.environ.get("PY_SPY", "py-spy")
    workdir = Path(tempfile.mkdtemp(prefix="tgo-bench-profile-sqlite-"))
    stack = sqlite_stack(workdir / "sqlite")
    raw = Path(os.environ.get("BENCH_PROFILE_OUT") or workdir / "py-spy.txt")
    try:
        load = Load(stack.api_url, "/api/v1/messages", "POST", SEND_BODY,
                    {"Content-Type": "application/json", "X-Api-Key": stack.api_key})  # fmt: skip
        run_wrk(load, 3)  # warm-up
        pid = stack.procs["api"].pid
        result: dict[str, object] = {}
        cpu0 = process_cpu(pid)
        threads0 = thread_cpu(pid)
        driver = threading.Thread(target=lambda: result.update(run_wrk(load, seconds)))
        driver.start()
        subprocess.run(
            [py_spy, "record", "-p", str(pid), "-o", str(raw), "-f", "raw", "-d", str(int(seconds)),
             "--threads", "-r", "100"],
            check=True, capture_output=True,
        )  # fmt: skip
        driver.join()
        cpu1 = process_cpu(pid)
        threads1 = thread_cpu(pid)
        n = int(str(result.get("requests", 0))) or 1
        print(f"requests: {n}  req/s: {result.get('requests_per_s')}  p99 ms: {result.get('p99_ms')}")
        print(f"CPU ms per accepted message (profiled, so inflated): {(cpu1 - cpu0) * 1000 / n:.2f}")
        print("CPU ms per accepted message by thread (psutil):")
        for tid, t in sorted(threads1.items(), key=lambda kv: -(kv[1] - threads0.get(kv[0], 0.0))):
            spent = (t - threads0.get(tid, 0.0)) * 1000 / n
            if spent >= 0.01:
                print(f"  {spent:6.2f}  thread {tid}{' (main)' if tid == pid else ''}")
        summarise(raw)
        print(f"raw stacks: {raw}")
    finally:
        stack.stop()


def report(
    result: dict[str, Any], counts: Counter[tuple[str, str]], walls: dict[tuple[str, str], float]
) -> None:
    n = int(result.get("requests", 0)) or 1
    print(f"requests: {n}  req/s: {result.get('requests_per_s')}  p99 ms: {result.get('p99_ms')}")
    print("per accepted message: statements (commits), wall ms in execute — database, statement")
    for (db, stmt), c in sorted(counts.items(), key=lambda kv: -kv[1]):
        if c / n >= 0.005:
            print(f"  {c / n:6.3f}  {1000 * walls[(db, stmt)] / n:6.3f} ms  {db:12}  {stmt}")
    sys.stdout.flush()


def statements(seconds: float) -> None:
    """The same load with the server in this process: every SQL statement of every engine (Business's file
    and Connect's sibling file) counted per accepted message, with the wall time between the statement's
    start and end (its trip through the aiosqlite thread included), and the commits per engine."""
    import time

    import uvicorn
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    workdir = Path(tempfile.mkdtemp(prefix="tgo-bench-profile-sqlite-"))
    stack = sqlite_stack(workdir / "sqlite")
    try:
        stack.procs.pop("api").stop()
        os.environ.update(stack.env)
        from tgo.app import create_app
        from tgo.http_guard import GuardedHttpToolsProtocol

        app = create_app()
        counts: Counter[tuple[str, str]] = Counter()
        walls: dict[tuple[str, str], float] = defaultdict(float)
        started: dict[int, float] = {}

        def key(conn: Any, statement: str) -> tuple[str, str]:
            name = Path(str(conn.engine.url.database)).stem
            return name, " ".join(statement.split())[:100]

        @event.listens_for(Engine, "before_cursor_execute")
        def before(conn: Any, _c: Any, statement: str, *_a: Any) -> None:
            started[id(conn)] = time.perf_counter()

        @event.listens_for(Engine, "after_cursor_execute")
        def after(conn: Any, _c: Any, statement: str, *_a: Any) -> None:
            k = key(conn, statement)
            counts[k] += 1
            walls[k] += time.perf_counter() - started.pop(id(conn), time.perf_counter())

        @event.listens_for(Engine, "commit")
        def commit(conn: Any) -> None:
            counts[(Path(str(conn.engine.url.database)).stem, "(commit)")] += 1

        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=stack.api_port, loop="uvloop",
                           http=GuardedHttpToolsProtocol, access_log=False, log_level="warning")
        )  # fmt: skip
        result: dict[str, Any] = {}

        def drive() -> None:
            while not server.started:
                time.sleep(0.1)
            load = Load(stack.api_url, "/api/v1/messages", "POST", SEND_BODY,
                        {"Content-Type": "application/json", "X-Api-Key": stack.api_key})  # fmt: skip
            run_wrk(load, 3)
            counts.clear()
            walls.clear()
            result.update(run_wrk(load, seconds))
            time.sleep(2)  # the last batches' deliveries and receipts
            report(result, counts, walls)
            server.should_exit = True

        threading.Thread(target=drive, daemon=True).start()
        profiler = cProfile.Profile() if os.environ.get("BENCH_CPROFILE") else None
        if profiler is not None:  # the server's thread, warm-up included: cumulative time of the tgo parts
            profiler.enable()
        server.run()
        if profiler is not None:
            profiler.disable()
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out)
            stats.sort_stats("cumulative").print_stats(
                r"tgo/(messages|connect_network|channels|worker|group_commit|db)", 60
            )
            print(out.getvalue())
    finally:
        stack.stop()


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--summarise":
        summarise(Path(sys.argv[2]))
    elif len(sys.argv) > 1 and sys.argv[1] == "--statements":
        statements(float(sys.argv[2]) if len(sys.argv) > 2 else 10)
    else:
        main(float(sys.argv[1]) if len(sys.argv) > 1 else 10)
