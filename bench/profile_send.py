"""Profile the send path: the PostgreSQL stack of the benchmark, but the API runs in this process under
cProfile while wrk sends POST /api/v1/messages. Prints the top functions by own time and the SQL statements
per request. PROFILER=none runs it without cProfile, for a sampling profiler outside the process
(``py-spy record -f raw -o OUT -- .venv/bin/python -m bench.profile_send 15``).

    .venv/bin/python -m bench.profile_send [SECONDS]

BENCH_PROFILE_WORKERS (default 1): delivery workers running beside it; 0 profiles the accept path alone (no
delivery receipts from Connect handled by the API during the run).
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.load import Load, run_wrk
from bench.stack import SEND_BODY, create_database, drop_database, postgres_stack


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 10
    name = f"tgo_bench_prof_{datetime.now(UTC):%Y%m%d%H%M%S}"
    create_database(name)
    workdir = Path(tempfile.mkdtemp(prefix="tgo-bench-profile-"))
    stack = postgres_stack(workdir, name)
    try:
        stack.set_workers(int(os.environ.get("BENCH_PROFILE_WORKERS", "1")))
        os.environ["TGO_LOG_LEVEL"] = os.environ.get("TGO_LOG_LEVEL", "INFO")
        stack.procs.pop("api").stop()
        os.environ.update(stack.env)
        import uvicorn
        from sqlalchemy import event

        from tgo.app import create_app

        app = create_app()
        statements: Counter[str] = Counter()
        server = uvicorn.Server(
            uvicorn.Config(
                app, host="127.0.0.1", port=stack.api_port, loop="uvloop", http="httptools",
                access_log=False, log_level="warning",
            )
        )  # fmt: skip
        profiler = cProfile.Profile()
        result: dict[str, Any] = {}

        def drive() -> None:
            while not server.started:
                time.sleep(0.1)
            engine = app.state.db.engine.sync_engine

            @event.listens_for(engine, "before_cursor_execute")
            def count(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
                statements[" ".join(statement.split())[:90]] += 1

            load = Load(stack.api_url, "/api/v1/messages", "POST", SEND_BODY,
                        {"Content-Type": "application/json", "X-Api-Key": stack.api_key})  # fmt: skip
            run_wrk(load, 3)  # warm-up
            statements.clear()
            cpu_before = time.process_time()
            result.update(run_wrk(load, seconds))
            result["cpu_s"] = time.process_time() - cpu_before
            server.should_exit = True

        threading.Thread(target=drive, daemon=True).start()
        sampled = os.environ.get("PROFILER") == "none"  # py-spy samples this process from outside
        if not sampled:
            profiler.enable()  # the server's thread (this one): start-up and warm-up are in the profile too
        server.run()
        profiler.disable()
        n = int(result.get("requests", 0)) or 1
        print(f"requests: {n}  req/s: {result.get('requests_per_s')}  p99 ms: {result.get('p99_ms')}")
        print(f"CPU of this process per request: {1000 * result.get('cpu_s', 0) / n:.3f} ms")
        print(f"SQL statements per request: {sum(statements.values()) / n:.2f}")
        for stmt, c in statements.most_common(25):
            print(f"  {c / n:5.2f}  {stmt}")
        if sampled:
            return
        dump = os.environ.get("BENCH_PROFILE_OUT")
        if dump:
            profiler.dump_stats(dump)
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        print("own time by package (share of the API process's profiled time):")
        for name, share in by_package(stats)[:15]:
            print(f"  {share:5.1f} %  {name}")
        stats.sort_stats("tottime").print_stats(35)
        stats.sort_stats("cumulative").print_stats(60)
        print(out.getvalue())
    finally:
        stack.stop()
        drop_database(name)


def by_package(stats: pstats.Stats) -> list[tuple[str, float]]:
    totals: Counter[str] = Counter()
    for (path, _line, func), (_cc, _nc, own, _cum, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        if "site-packages/" in path:
            name = path.split("site-packages/")[1].split("/")[0]
        elif "/src/tgo/" in path:
            name = "tgo." + path.split("/src/tgo/")[1].split("/")[0].removesuffix(".py")
        elif "sqlalchemy" in path:
            name = "sqlalchemy"
        elif path == "~":
            name = "builtins: " + func.split("'")[1] if "'" in func else "builtins"
        else:
            name = "stdlib: " + path.rsplit("/", 1)[-1]
        totals[name] += own
    whole = sum(totals.values()) or 1.0
    return [(k, 100 * v / whole) for k, v in totals.most_common()]


if __name__ == "__main__":
    main()
