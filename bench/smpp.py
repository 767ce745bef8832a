"""SMS over SMPP (issue 16): TGO's SMS path and the Jasmin SMS gateway's, each to the bench's SMSC simulator
(bench/smsc.py, a process of its own), in the same run and the same way: N messages posted over HTTP
(64 connections, wrk) while the platform submits them over SMPP; measured at the simulator.

- TGO: ``POST /v1/sms/messages`` → `tgo worker` (windowed ``submit_sm``, TGO_SMPP_WINDOW) → simulator, which
  sends a DELIVRD receipt for every submit; the receipts are applied in batches. Reported: the SMPP egress
  (submits accepted by the simulator per second, from the first post to the last submit), delivered/s (to the
  last message's ``delivered``) and CPU ms per message per process (API, worker(s), the database's backends,
  the simulator; RabbitMQ — shared with everything on the machine — apart).
- Jasmin 0.11.1: HTTP ``/send`` → its SMPP client connector → simulator (no receipts: ``/send`` asks for
  none). Reported: the same egress and CPU per message (jasmind, the simulator, RabbitMQ apart).

Knobs: BENCH_SMPP_N [5000], BENCH_SMPP_WORKERS [1,2], BENCH_SMPP_TIMEOUT_S [240]."""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import psutil

from bench.cpu import backend_cpu, process_cpu
from bench.load import Load, run_wrk
from bench.stack import (
    AMQP_URL,
    ROOT,
    Proc,
    Stack,
    base_env,
    cli,
    create_database,
    drop_database,
    free_port,
    pg_url,
)

N = int(os.environ.get("BENCH_SMPP_N", "5000"))
WORKERS = [int(x) for x in os.environ.get("BENCH_SMPP_WORKERS", "1,2").split(",") if x]
TIMEOUT = float(os.environ.get("BENCH_SMPP_TIMEOUT_S", "240"))
CONNECTIONS = 64
TEXT = "Your code is ready: 4821"
TO = "+61412345678"


class Smsc:
    """bench/smsc.py in its own process, its counts read from its stats file."""

    def __init__(self, workdir: Path, password: str, receipts: bool) -> None:
        self.port = free_port()
        self.stats_path = workdir / f"smsc-{self.port}.json"
        argv = [sys.executable, "-m", "bench.smsc", str(self.port), "--password", password]
        argv += ["--stats", str(self.stats_path)] + (["--receipts"] if receipts else [])
        self.proc = Proc(f"smsc-{self.port}", argv, dict(os.environ, PYTHONPATH=str(ROOT)), workdir)

    def start(self) -> Smsc:
        self.proc.start()
        deadline = time.monotonic() + 30
        while not self.stats_path.exists():
            if time.monotonic() > deadline or not self.proc.alive():
                raise RuntimeError(f"smsc did not start:\n{self.proc.tail()}")
            time.sleep(0.1)
        return self

    def stats(self) -> dict[str, Any]:
        for _ in range(20):
            try:
                return dict(json.loads(self.stats_path.read_text()))
            except (OSError, ValueError):
                time.sleep(0.05)
        raise RuntimeError("smsc stats unreadable")

    def stop(self) -> None:
        self.proc.stop()


def rabbitmq_cpu() -> float:
    """CPU seconds of the machine's RabbitMQ (shared: other runs' traffic counts too)."""
    total = 0.0
    for p in psutil.process_iter(["name"]):
        try:
            if p.info["name"] in ("beam.smp", "erl_child_setup"):
                t = p.cpu_times()
                total += float(t.user + t.system)
        except psutil.Error:
            continue
    return total


def wait_egress(smsc: Smsc, target: int, deadline: float) -> dict[str, Any]:
    stats = smsc.stats()
    while int(stats["accepted"]) < target and time.monotonic() < deadline:
        time.sleep(0.1)
        stats = smsc.stats()
    return stats


def _phase_cpu(
    pids: dict[str, int], database: str | None
) -> tuple[dict[str, float], dict[int, float], float]:
    return {k: process_cpu(pid) for k, pid in pids.items()}, backend_cpu(database), rabbitmq_cpu()


def _per_message(
    before: tuple[dict[str, float], dict[int, float], float],
    after: tuple[dict[str, float], dict[int, float], float],
    n: int,
) -> dict[str, float]:
    per = {k: (after[0][k] - before[0][k]) * 1000 / max(n, 1) for k in after[0]}
    if after[1]:
        per["postgres"] = sum(t - before[1].get(pid, 0.0) for pid, t in after[1].items()) * 1000 / max(n, 1)
    per["rabbitmq_shared"] = (after[2] - before[2]) * 1000 / max(n, 1)
    out = {k: round(v, 3) for k, v in per.items()}
    out["total_excl_rabbitmq"] = round(sum(v for k, v in per.items() if k != "rabbitmq_shared"), 3)
    return out


# -- TGO --------------------------------------------------------------------------------------------------


def _sms_sender(stack: Stack) -> str:
    headers = {"Authorization": f"Bearer {stack.api_key}"}
    with httpx.Client(base_url=stack.api_url, headers=headers, timeout=30) as http:
        r = http.post(
            "/v1/sms/senders",
            json={
                "name": "Bench",
                "senderId": "BenchSMS",
                "senderType": "alphanumeric_id",
                "country": "AU",
                "defaultMessageType": "transactional",
            },
        )
        r.raise_for_status()
        sender_id = str(r.json()["id"])
        http.post(f"/v1/sms/senders/{sender_id}/verify").raise_for_status()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            status = http.get(f"/v1/sms/senders/{sender_id}").json()["status"]
            if status == "active":
                return sender_id
            if status != "pending":
                raise RuntimeError(f"the bench's SMS sender is {status}")
            time.sleep(0.2)
    raise RuntimeError("the bench's SMS sender was not verified in 60 s")


def tgo_smpp(
    workdir: Path, n: int = N, workers: list[int] = WORKERS, timeout: float = TIMEOUT
) -> dict[str, Any]:
    from bench.db import PgDirect

    workdir.mkdir(parents=True, exist_ok=True)
    db_name = f"tgo_bench_smpp_{uuid.uuid4().hex[:8]}"
    create_database(db_name)
    smsc = Smsc(workdir, password="bench", receipts=True).start()
    env = base_env()
    env.update(
        TGO_DATABASE_URL=pg_url(db_name),
        TGO_DATA_DIR=str(workdir / "data"),
        TGO_BROKER_URL=AMQP_URL,
        TGO_QUEUE_NAME=f"tgo_bench_smpp_{uuid.uuid4().hex[:8]}",
        TGO_RUN_WORKERS="false",
        TGO_SMPP_HOST="127.0.0.1",
        TGO_SMPP_PORT=str(smsc.port),
        TGO_SMPP_SYSTEM_ID="tgo",
        TGO_SMPP_PASSWORD="bench",
        TGO_SMS_VERIFICATION_DELAY_SECONDS="0",
        TGO_LOG_LEVEL="WARNING",
    )
    stack = Stack("postgres", workdir, env, free_port())
    pg: PgDirect | None = None
    out: dict[str, Any] = {"n": n, "window": env.get("TGO_SMPP_WINDOW", "10 (default)"), "runs": []}
    try:
        cli(env, "migrate")
        stack.start_api()
        cli(env, "tenant", "create", stack.tenant_slug, "--domain", f"{stack.tenant_slug}.localhost")
        stack.api_key = cli(env, "apikey", "create", "--tenant", stack.tenant_slug, "--scopes", "*")["key"]
        stack.set_workers(1)  # the carrier's verification runs as a job
        sender_id = _sms_sender(stack)
        pg = PgDirect(db_name)
        body = json.dumps({"senderId": sender_id, "to": TO, "body": TEXT})
        load = Load(
            stack.api_url,
            "/v1/sms/messages",
            "POST",
            body,
            {"Content-Type": "application/json", "Authorization": f"Bearer {stack.api_key}"},
            connections=CONNECTIONS,
        )
        for count in workers:
            stack.set_workers(count)
            out["runs"].append(_tgo_run(stack, pg, smsc, load, n, count, timeout))
    finally:
        stack.stop()
        smsc.stop()
        if pg is not None:
            pg.close()
        drop_database(db_name)
    return out


def _tgo_run(
    stack: Stack, pg: Any, smsc: Smsc, load: Load, n: int, workers: int, timeout: float
) -> dict[str, Any]:
    total0 = int(pg.val("SELECT count(*) FROM sms_messages"))
    delivered0 = int(pg.val("SELECT count(*) FROM sms_messages WHERE status = 'delivered'"))
    egress0 = int(smsc.stats()["accepted"])
    pids = {"api": stack.procs["api"].pid, "smsc": smsc.proc.pid}
    pids |= {p.name: p.pid for p in stack.workers()}
    cpu0 = _phase_cpu(pids, stack.database_name)
    t0, wall0 = time.monotonic(), time.time()
    accept = run_wrk(load, duration_s=timeout, limit_per_thread=n // load.threads)
    t_accepted = time.monotonic()
    accepted = int(pg.val("SELECT count(*) FROM sms_messages")) - total0
    deadline = t0 + timeout
    wait_egress(smsc, egress0 + accepted, deadline)
    delivered = 0
    while time.monotonic() < deadline:
        # wrk stops with requests in flight: the ones answered after it count too (accepted, then delivered).
        accepted = int(pg.val("SELECT count(*) FROM sms_messages")) - total0
        delivered = int(pg.val("SELECT count(*) FROM sms_messages WHERE status = 'delivered'")) - delivered0
        if delivered >= accepted:
            break
        time.sleep(0.1)
    t_done = time.monotonic()
    cpu1 = _phase_cpu(pids, stack.database_name)
    stats = smsc.stats()
    egressed = int(stats["accepted"]) - egress0
    statuses = {
        r["status"]: int(r["c"])
        for r in pg.fetch("SELECT status, count(*) AS c FROM sms_messages GROUP BY 1")
    }
    return {
        "workers": workers,
        "accepted": accepted,
        "accept_per_s": round(accepted / max(t_accepted - t0, 1e-9), 1),
        "accept_non_2xx": accept["non_2xx"],
        "egressed": egressed,
        "egress_per_s": round(egressed / max(float(stats["last_at"] or wall0) - wall0, 1e-9), 1),
        "delivered": delivered,
        "delivered_per_s": round(delivered / max(t_done - t0, 1e-9), 1),
        "complete": delivered >= accepted and egressed >= accepted,
        "statuses_after": statuses,
        "cpu_ms_per_message": _per_message(cpu0, cpu1, max(accepted, 1)),
    }


# -- Jasmin -----------------------------------------------------------------------------------------------


def jasmin_smpp(workdir: Path, n: int = N, timeout: float = TIMEOUT) -> dict[str, Any]:
    from bench.jasmin.gateway import JasminGateway

    workdir.mkdir(parents=True, exist_ok=True)
    smsc = Smsc(workdir, password="jasmin", receipts=False).start()
    gw = JasminGateway(workdir, http_api=True)
    try:
        gw.start()
        gw.provision("tgo", "secret", smsc=("127.0.0.1", smsc.port))
        deadline = time.monotonic() + 30
        while "bound" not in gw.jcli("smppccm -l").lower() and time.monotonic() < deadline:
            time.sleep(0.5)
        body = urlencode({"username": "tgo", "password": "secret", "to": TO.lstrip("+"), "content": TEXT})
        load = Load(
            f"http://127.0.0.1:{gw.http_port}",
            "/send",
            "POST",
            body,
            {"Content-Type": "application/x-www-form-urlencoded"},
            connections=CONNECTIONS,
        )
        assert gw.process is not None
        pids = {"jasmind": gw.process.pid, "smsc": smsc.proc.pid}
        egress0 = int(smsc.stats()["accepted"])
        cpu0 = _phase_cpu(pids, None)
        t0, wall0 = time.monotonic(), time.time()
        accept = run_wrk(load, duration_s=timeout, limit_per_thread=n // load.threads)
        t_accepted = time.monotonic()
        accepted = int(accept["ok"])
        stats = wait_egress(smsc, egress0 + accepted, t0 + timeout)
        cpu1 = _phase_cpu(pids, None)
        egressed = int(stats["accepted"]) - egress0
        # wrk stops with requests in flight, answered after it: what the simulator received is the count.
        accepted = max(accepted, egressed)
        return {
            "n": n,
            "accepted": accepted,
            "accept_per_s": round(accepted / max(t_accepted - t0, 1e-9), 1),
            "accept_non_2xx": accept["non_2xx"],
            "egressed": egressed,
            "egress_per_s": round(egressed / max(float(stats["last_at"] or wall0) - wall0, 1e-9), 1),
            "complete": egressed >= accepted,
            "cpu_ms_per_message": _per_message(cpu0, cpu1, max(accepted, 1)),
            "jasmin_version": "0.11.1",
        }
    finally:
        gw.stop()
        smsc.stop()


def smpp_both(workdir: Path) -> dict[str, Any]:
    """Both, one after the other in this run, and the ratio of their egress rates."""
    ours = tgo_smpp(workdir / "tgo")
    theirs = jasmin_smpp(workdir / "jasmin")
    best = max((r["egress_per_s"] for r in ours["runs"] if r["complete"]), default=None)
    ratio = round(best / theirs["egress_per_s"], 3) if best and theirs.get("egress_per_s") else None
    return {"tgo": ours, "jasmin": theirs, "tgo_vs_jasmin_egress_ratio": ratio}


if __name__ == "__main__":
    import tempfile

    print(json.dumps(smpp_both(Path(tempfile.mkdtemp(prefix="tgo-bench-smpp-"))), indent=2))
