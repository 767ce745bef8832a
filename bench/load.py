"""The load generator: Debian's `wrk` in its own process, driven by load.lua (POST bodies, non-2xx count,
percentiles up to p99.99 as one JSON line)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LUA = Path(__file__).resolve().parent / "load.lua"


class LoadError(RuntimeError):
    pass


@dataclass
class Load:
    url: str  # http://127.0.0.1:PORT
    path: str
    method: str = "GET"
    body: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    paths: list[str] = field(default_factory=list)  # requests go to these in turn (``path`` is the first)
    connections: int = 64
    threads: int = 2
    timeout_s: int = 10


def wrk_path() -> str:
    found = shutil.which("wrk")
    if not found:
        raise LoadError("wrk is not installed: apt-get install -y wrk")
    return found


def wrk_version() -> str:
    out = subprocess.run([wrk_path(), "-v"], capture_output=True, text=True, check=False)
    return (out.stdout + out.stderr).strip().splitlines()[0] if (out.stdout + out.stderr).strip() else "wrk"


def run_wrk(load: Load, duration_s: float, limit_per_thread: int = 0) -> dict[str, Any]:
    """Run wrk once; returns the JSON the Lua script printed (latencies in milliseconds)."""
    env = {
        **os.environ,
        "BENCH_METHOD": load.method,
        "BENCH_PATH": load.path,
        "BENCH_BODY": load.body or "",
        "BENCH_HEADERS": "\n".join(f"{k}: {v}" for k, v in load.headers.items()),
        "BENCH_LIMIT": str(limit_per_thread),
        "BENCH_PATHS": "\n".join(load.paths),
    }
    cmd = [
        wrk_path(),
        f"-t{load.threads}",
        f"-c{load.connections}",
        f"-d{max(1, round(duration_s))}s",
        f"--timeout={load.timeout_s}s",
        "-s",
        str(LUA),
        load.url + load.path,
    ]
    if limit_per_thread:
        stdout, stderr, code = _run_until_limit(cmd, env, load.threads, duration_s + 120)
    else:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=duration_s + 120)
        stdout, stderr, code = done.stdout, done.stderr, done.returncode
    for line in stdout.splitlines():
        if line.startswith("BENCHJSON "):
            result: dict[str, Any] = json.loads(line[len("BENCHJSON ") :])
            result["requests_per_s"] = round(result["requests"] / max(result["duration_s"], 1e-9), 1)
            result["ok_per_s"] = round(result["ok"] / max(result["duration_s"], 1e-9), 1)
            pct = result["percentiles_ms"]
            result["p50_ms"], result["p99_ms"], result["p999_ms"] = pct["50"], pct["99"], pct["99.9"]
            result["connections"] = load.connections
            return result
    raise LoadError(f"wrk printed no result (exit {code}):\n{stdout}\n{stderr}")


def _run_until_limit(
    cmd: list[str], env: dict[str, str], threads: int, timeout: float
) -> tuple[str, str, int]:
    """wrk with a per-thread request limit: SIGINT once every thread reached it (wrk then reports)."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stderr is not None
    lines: list[str] = []
    reached = 0
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    try:
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("BENCHLIMIT"):
                reached += 1
                if reached == threads:
                    proc.send_signal(signal.SIGINT)
        stderr = proc.stderr.read()
        return "".join(lines), stderr, proc.wait()
    finally:
        timer.cancel()


def measure(load: Load, warmup_s: float, duration_s: float) -> dict[str, Any]:
    """A warm-up run (discarded), then the measured run."""
    if warmup_s > 0:
        run_wrk(load, warmup_s)
    result = run_wrk(load, duration_s)
    result["warmup_s"] = warmup_s
    return result
