"""CPU seconds of the processes a benchmark measures (psutil): a process with its children, and the
PostgreSQL backends of one database."""

from __future__ import annotations

import psutil


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its children (0 when it is gone)."""
    try:
        p = psutil.Process(pid)
        t = p.cpu_times()
        return float(t.user + t.system) + sum(
            float(c.cpu_times().user + c.cpu_times().system) for c in p.children(recursive=True)
        )
    except psutil.Error:
        return 0.0


def backend_cpu(database: str | None) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend connected to ``database`` (its process title names it)."""
    if database is None:
        return {}
    out: dict[int, float] = {}
    for p in psutil.process_iter(["cmdline"]):
        try:
            title = " ".join(p.info["cmdline"] or [])
            if title.startswith("postgres:") and f" {database} " in f"{title} ":
                t = p.cpu_times()
                out[p.pid] = float(t.user + t.system)
        except psutil.Error:
            continue
    return out
