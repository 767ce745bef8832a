"""The run's JSON, the latency chart (PNG) and the printed table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

TARGETS = {
    "send_vs_ceiling_ratio": ">= 0.60",
    "send_pg_p99_ms": "<= 50",
    "send_vs_jasmin_ratio": ">= 2.0",
    "send_2proc_vs_ceiling_2proc_ratio": ">= 0.60",
    "send_2proc_vs_jasmin_ratio": ">= 2.0",
    "e2e_delivered_per_s": ">= 1000",
    "e2e_latency_p99_ms": "<= 1000 (not saturated)",
    "reads_p99_1m_vs_100k_ratio": "<= 1.5 each",
    "api_rss_peak_mb": "<= 200",
    "upload_rss_growth_mb": "< 30",
    "smpp_tgo_vs_jasmin_egress_ratio": ">= 1.0",
}


def ratios(results: dict[str, Any]) -> dict[str, float | None]:
    def rps(key: str) -> float | None:
        r = results.get(key)
        return r.get("requests_per_s") if isinstance(r, dict) else None

    def div(a: float | None, b: float | None) -> float | None:
        return round(a / b, 3) if a is not None and b else None

    out = {
        "send_vs_ceiling_ratio": div(rps("send_postgres"), rps("ceiling")),
        "send_sqlite_vs_ceiling_ratio": div(rps("send_sqlite"), rps("ceiling")),
        "send_vs_jasmin_ratio": div(rps("send_postgres"), rps("jasmin")),
        "send_sqlite_vs_jasmin_ratio": div(rps("send_sqlite"), rps("jasmin")),
        "jasmin_vs_ceiling_ratio": div(rps("jasmin"), rps("ceiling")),
        "send_2proc_vs_ceiling_2proc_ratio": div(rps("send_postgres_2"), rps("ceiling_2")),
        "send_2proc_vs_jasmin_ratio": div(rps("send_postgres_2"), rps("jasmin")),
    }

    def p99(key: str) -> float | None:
        r = results.get(key)
        return r.get("p99_ms") if isinstance(r, dict) else None

    out["send_vs_jasmin_p99_ratio"] = div(p99("send_postgres"), p99("jasmin"))
    smpp = results.get("smpp")
    if isinstance(smpp, dict) and "tgo_vs_jasmin_egress_ratio" in smpp:
        out["smpp_tgo_vs_jasmin_egress_ratio"] = smpp["tgo_vs_jasmin_egress_ratio"]
    reads = results.get("reads") or {}
    small, large = reads.get("100k") or {}, reads.get("1m") or {}
    for name in large:
        if name in small:
            out[f"reads_{name}_p99_1m_vs_100k_ratio"] = div(large[name]["p99_ms"], small[name]["p99_ms"])
    return out


def chart(results: dict[str, Any], latencies: dict[str, list[float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    for key, label in (
        ("ceiling", "ceiling (bare Litestar)"),
        ("send_postgres", "send, PostgreSQL + RabbitMQ"),
        ("send_sqlite", "send, embedded SQLite"),
        ("jasmin", "Jasmin /send"),
    ):
        r = results.get(key)
        if not isinstance(r, dict) or "percentiles_ms" not in r:
            continue
        pcts = sorted((float(p) / 100, v) for p, v in r["percentiles_ms"].items())
        left.plot([p for p, _ in pcts], [v for _, v in pcts], marker="o", label=label)
    left.set_xscale("logit")
    left.set_yscale("log")
    left.set_xlabel("percentile")
    left.set_ylabel("latency (ms)")
    left.set_title("Request latency at 64 connections (wrk)")
    left.legend(fontsize=8)
    left.grid(True, which="both", alpha=0.3)
    for label, values in latencies.items():
        if not values:
            continue
        s = sorted(values)
        right.plot(s, [(i + 1) / len(s) for i in range(len(s))], label=label)
    right.set_xscale("log")
    right.set_xlabel("accept → delivered (ms)")
    right.set_ylabel("fraction of messages")
    right.set_title("End to end: accept → delivered (CDF)")
    right.legend(fontsize=8)
    right.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _f(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def _cpu_table(results: dict[str, Any]) -> list[str]:
    """CPU per accepted message, per process, for each send run (ms; warm-up included: an upper bound)."""
    rows = []
    for key, label in (
        ("send_postgres", "PostgreSQL, 1 API process"),
        ("send_postgres_2", "PostgreSQL, 2 API processes"),
        ("send_sqlite", "embedded (SQLite, one process)"),
    ):
        r = results.get(key)
        if not isinstance(r, dict) or not r.get("cpu_ms_per_request_incl_warmup"):
            continue
        cpu = r["cpu_ms_per_request_incl_warmup"]
        total = r.get("cpu_ms_per_accepted_total", cpu.get("api"))
        rows.append(
            f"| {label} | {_f(cpu.get('api'), 2)} | {_f(cpu.get('connect'), 2)} | {_f(cpu.get('postgres'), 2)} | "
            f"{_f(total, 2)} | {_f(r.get('requests_per_s'))} | {_f(r.get('send_batch_mean'))} |"
        )
    if not rows:
        return []
    return [
        "",
        "| CPU ms per accepted message | API | Connect | PostgreSQL | total | req/s, same run | sends per commit |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *rows,
    ]


def _smpp_table(results: dict[str, Any]) -> list[str]:
    """SMS over SMPP to the simulator (bench/smpp.py): egress per second and CPU ms per message per process."""
    smpp = results.get("smpp")
    if not isinstance(smpp, dict) or "error" in smpp:
        return ["", f"SMPP: failed: {str(smpp.get('error'))[:80]}"] if isinstance(smpp, dict) else []
    rows = []
    for r in (smpp.get("tgo") or {}).get("runs", []):
        cpu = r["cpu_ms_per_message"]
        per = ", ".join(f"{k} {v}" for k, v in cpu.items() if k not in ("total_excl_rabbitmq",))
        label = f"TGO, {r['workers']} worker(s)" + ("" if r["complete"] else " (incomplete)")
        rows.append(
            f"| {label} | {r['accepted']} | {_f(r['egress_per_s'])} | {_f(r['delivered_per_s'])} | "
            f"{_f(cpu['total_excl_rabbitmq'], 2)} | {per} |"
        )
    j = smpp.get("jasmin") or {}
    if "cpu_ms_per_message" in j:
        cpu = j["cpu_ms_per_message"]
        per = ", ".join(f"{k} {v}" for k, v in cpu.items() if k not in ("total_excl_rabbitmq",))
        label = "Jasmin 0.11.1" + ("" if j["complete"] else " (incomplete)")
        rows.append(
            f"| {label} | {j['accepted']} | {_f(j['egress_per_s'])} | (no receipts) | "
            f"{_f(cpu['total_excl_rabbitmq'], 2)} | {per} |"
        )
    if not rows:
        return []
    return [
        "",
        "| SMS over SMPP to the simulator | accepted | SMPP egress/s | delivered/s | CPU ms/msg (excl. RabbitMQ) | per process |",
        "|---|---:|---:|---:|---:|---|",
        *rows,
    ]


def table(results: dict[str, Any]) -> str:
    lines = ["| benchmark | req/s | p50 ms | p99 ms | p99.9 ms | non-2xx |", "|---|---:|---:|---:|---:|---:|"]
    for key, label in (
        ("ceiling", "ceiling: bare Litestar + msgspec, no DB"),
        ("ceiling_2", "ceiling, 2 processes"),
        ("send_postgres", "send: PostgreSQL + RabbitMQ + Connect over HTTP"),
        ("send_postgres_2", "send: the same, `tgo serve --workers 2`"),
        ("send_sqlite", "send: embedded default (SQLite, memory broker)"),
        ("jasmin", "Jasmin 0.11.1 HTTP /send"),
    ):
        r = results.get(key)
        if isinstance(r, dict) and "requests_per_s" in r:
            lines.append(
                f"| {label} | {_f(r['requests_per_s'])} | {_f(r['p50_ms'])} | {_f(r['p99_ms'])} | "
                f"{_f(r['p999_ms'])} | {r['non_2xx'] + r.get('socket_errors', 0)} |"
            )
        elif isinstance(r, dict) and "error" in r:
            lines.append(f"| {label} | failed: {r['error'][:60]} | | | | |")
    lines += _cpu_table(results)
    lines += ["", "| ratio | value | target |", "|---|---:|---|"]
    for key, value in results.get("ratios", {}).items():
        target = TARGETS.get(key, "<= 1.5" if key.startswith("reads_") else "")
        lines.append(f"| {key} | {_f(value, 3)} | {target} |")
    e2e = list(results.get("e2e") or [])
    if isinstance(results.get("e2e_light"), dict) and "accepted" in results["e2e_light"]:
        e2e.append(results["e2e_light"])
    if e2e:
        lines += [
            "",
            "| end to end | accepted | accept/s | delivered/s | drain/s | all delivered (s) | latency p50 / p99 / max ms |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for r in e2e:
            if "error" in r:
                lines.append(f"| {r.get('workers')} worker(s) | failed: {r['error'][:60]} | | | | |")
                continue
            lat = r["latency_ms"]
            done = "" if r["complete"] else " (incomplete)"
            lines.append(
                f"| {r['workers']} worker(s), {r.get('connections', 64)} conn. | {r['accepted']} | {_f(r['accept_per_s'])} | "
                f"{_f(r['delivered_per_s'])}{done} | {_f(r.get('drain_per_s'))} | {_f(r['all_delivered_s'])} | "
                f"{_f(lat['p50'], 0)} / {_f(lat['p99'], 0)} / {_f(lat['max'], 0)} |"
            )
        cpu_rows = [r for r in e2e if isinstance(r.get("cpu_ms_per_delivered"), dict)]
        if cpu_rows:
            lines += [
                "",
                "| CPU ms per delivered message | API | workers | Connect | PostgreSQL | total |",
                "|---|---:|---:|---:|---:|---:|",
            ]
            for r in cpu_rows:
                c = r["cpu_ms_per_delivered"]
                lines.append(
                    f"| {r['workers']} worker(s), {r.get('connections', 64)} conn. | {_f(c.get('api'), 2)} | "
                    f"{_f(c.get('workers'), 2)} | {_f(c.get('connect'), 2)} | {_f(c.get('postgres'), 2)} | "
                    f"{_f(c.get('total'), 2)} |"
                )
    lines += _smpp_table(results)
    reads = results.get("reads") or {}
    if reads.get("100k") or reads.get("1m"):
        lines += [
            "",
            "| read (8 connections) | p50 100k | p99 100k | p50 1M | p99 1M |",
            "|---|---:|---:|---:|---:|",
        ]
        small, large = reads.get("100k") or {}, reads.get("1m") or {}
        for name in small or large:
            a, b = small.get(name, {}), large.get(name, {})
            lines.append(
                f"| {name} | {_f(a.get('p50_ms'))} | {_f(a.get('p99_ms'))} | {_f(b.get('p50_ms'))} | "
                f"{_f(b.get('p99_ms'))} |"
            )
    mem = results.get("memory") or {}
    if mem:
        lines += ["", "| memory | MB |", "|---|---:|"]
        for k, v in mem.items():
            if isinstance(v, int | float):
                lines.append(f"| {k} | {_f(float(v))} |")
    return "\n".join(lines)
