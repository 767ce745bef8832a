"""The systems under test as real processes: `tgo serve`, `tgo worker`, `tgo connect serve`, the ceiling app,
a benchmark PostgreSQL database created and dropped per run, and the CLI setup of a sending tenant."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("TGO_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
AMQP_URL = os.environ.get("TGO_BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
OWNER, RECIPIENT = "+201001187188", "+201010000000"
SEND_BODY = json.dumps(
    {"sender_phone": OWNER, "to_phone": RECIPIENT, "type": "text", "content": "Your code is ready: 4821"}
)
SECRET = "bench-secret-key-" + uuid.uuid4().hex


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Proc:
    """A child process in its own session (killed with its group), output to a log file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name, self.argv, self.env = name, argv, env
        self.log = log_dir / f"{name}.log"
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as fh:
            self.popen = subprocess.Popen(
                self.argv, env=self.env, stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True
            )
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self, timeout: float = 15) -> None:
        if not self.alive():
            return
        assert self.popen is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(5)

    def tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def rss_bytes(self) -> int:
        """RSS of the process and its children (uvicorn may fork)."""
        try:
            p = psutil.Process(self.pid)
            return int(p.memory_info().rss + sum(c.memory_info().rss for c in p.children(recursive=True)))
        except psutil.Error:
            return 0


def wait_http(url: str, proc: Proc | None = None, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code < 500:
                return
        if proc is not None and not proc.alive():
            raise RuntimeError(f"{proc.name} exited:\n{proc.tail()}")
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up" + (f":\n{proc.tail()}" if proc else ""))


def tgo_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "tgo", *args]


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TGO_")}
    env.update(
        TGO_SECRET_KEY=SECRET,
        # The load is 64 connections from one key: lift the per-key/tenant API limits and the per-sender
        # delivery pace (defaults 600/s, 2000/s and 80/s) so they do not cap what is measured.
        TGO_API_RATE_LIMIT_PER_KEY="1000000/second",
        TGO_API_RATE_LIMIT_PER_TENANT="1000000/second",
        TGO_SENDER_RATE_PER_SECOND="1000000",
    )
    return env


def cli(env: dict[str, str], *args: str) -> Any:
    done = subprocess.run(
        tgo_argv(*args, "--json"), env=env, capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    if done.returncode != 0:
        raise RuntimeError(f"tgo {' '.join(args)} failed ({done.returncode}): {done.stdout}\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- PostgreSQL ------------------------------------------------------------------------------------------


def pg_url(database: str, driver: str = "postgresql+asyncpg") -> str:
    from sqlalchemy.engine import make_url

    return make_url(PG_ADMIN_URL).set(drivername=driver, database=database).render_as_string(False)


def pg_admin(sql: str) -> None:
    import asyncio

    import asyncpg

    async def go() -> None:
        conn = await asyncpg.connect(PG_ADMIN_URL)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(go())


def create_database(name: str) -> str:
    pg_admin(f'CREATE DATABASE "{name}"')
    return pg_url(name)


def drop_database(name: str) -> None:
    with contextlib.suppress(Exception):
        pg_admin(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{name}' AND pid <> pg_backend_pid()"
        )
    pg_admin(f'DROP DATABASE IF EXISTS "{name}"')


# --- stacks ----------------------------------------------------------------------------------------------


@dataclass
class Stack:
    kind: str  # "postgres" | "sqlite"
    workdir: Path
    env: dict[str, str]
    api_port: int
    procs: dict[str, Proc] = field(default_factory=dict)
    api_key: str = ""
    sender_number_id: int = 0
    tenant_slug: str = "bench"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def spawn(self, name: str, *args: str) -> Proc:
        p = Proc(name, tgo_argv(*args), self.env, self.workdir).start()
        self.procs[name] = p
        return p

    def start_api(self, processes: int = 1) -> None:
        api = self.spawn("api", "serve", "--port", str(self.api_port), "--workers", str(processes))
        wait_http(f"{self.api_url}/healthz", api)
        if processes > 1:
            time.sleep(2.0)  # every worker process has bound the socket, not only the first

    def restart_api(self, processes: int) -> None:
        """`tgo serve --workers processes` instead of the running API."""
        self.procs.pop("api").stop()
        self.start_api(processes)

    @property
    def database_name(self) -> str | None:
        url = self.env.get("TGO_DATABASE_URL", "")
        return url.rsplit("/", 1)[-1].split("?", 1)[0] if url.startswith("postgresql") else None

    def set_workers(self, n: int) -> list[Proc]:
        """Exactly n `tgo worker` processes (postgres stack)."""
        running = sorted(k for k in self.procs if k.startswith("worker-") and self.procs[k].alive())
        for name in running[n:]:
            self.procs.pop(name).stop()
        for i in range(len(running[:n]), n):
            name = f"worker-{i + 1}"
            while name in self.procs:
                name += "x"
            self.spawn(name, "worker")
        time.sleep(2.0)  # consumers declare their queue and start
        return self.workers()

    def workers(self) -> list[Proc]:
        return [p for k, p in self.procs.items() if k.startswith("worker-") and p.alive()]

    def stop(self) -> None:
        for p in reversed(list(self.procs.values())):
            p.stop()

    def setup_sender(self) -> None:
        """Tenant, key, Connect accounts, a registered and verified sender number — through the CLI and API."""
        cli(self.env, "tenant", "create", self.tenant_slug, "--domain", f"{self.tenant_slug}.localhost")
        self.api_key = cli(self.env, "apikey", "create", "--tenant", self.tenant_slug, "--scopes", "*")["key"]
        cli(self.env, "connect", "account", "create", OWNER, "--name", "Bench owner", "--verified")
        cli(self.env, "connect", "account", "create", RECIPIENT, "--name", "Bench recipient")
        with httpx.Client(base_url=self.api_url, headers={"X-Api-Key": self.api_key}, timeout=30) as http:
            r = http.post("/api/v1/sender-numbers", json={"phone": OWNER, "display_name": "Bench"})
            r.raise_for_status()
            self.sender_number_id = int(r.json()["id"])
            inbox = cli(self.env, "connect", "inbox", OWNER)
            newest = max(inbox["messages"], key=lambda m: m["id"])
            match = re.search(r"\b(\d{6})\b", newest["content"] or "")
            if match is None:
                raise RuntimeError(f"no OTP in {newest}")
            r = http.post(
                f"/api/v1/sender-numbers/{self.sender_number_id}/verify", json={"otp": match.group(1)}
            )
            r.raise_for_status()
            if not r.json()["can_send"]:
                raise RuntimeError(f"sender cannot send: {r.json()}")
            r = http.post("/api/v1/messages", content=SEND_BODY, headers={"Content-Type": "application/json"})
            if r.status_code != 201:
                raise RuntimeError(f"test send failed: {r.status_code} {r.text}")


def postgres_stack(workdir: Path, db_name: str) -> Stack:
    workdir.mkdir(parents=True, exist_ok=True)
    api_port, connect_port = free_port(), free_port()
    env = base_env()
    env.update(
        TGO_DATABASE_URL=pg_url(db_name),
        TGO_DATA_DIR=str(workdir / "data"),
        TGO_BROKER_URL=AMQP_URL,
        TGO_QUEUE_NAME=f"tgo_bench_{uuid.uuid4().hex[:8]}",
        TGO_CONNECT_URL=f"http://127.0.0.1:{connect_port}",
        TGO_BUSINESS_URL=f"http://127.0.0.1:{api_port}",
        TGO_RUN_WORKERS="false",
    )
    stack = Stack("postgres", workdir, env, api_port)
    cli(env, "migrate")
    connect = stack.spawn("connect", "connect", "serve", "--port", str(connect_port))
    wait_http(f"http://127.0.0.1:{connect_port}/connect/healthz", connect)
    stack.start_api()
    stack.setup_sender()
    return stack


def sqlite_stack(workdir: Path) -> Stack:
    """The embedded default: SQLite, the in-process broker and workers, Connect in process."""
    workdir.mkdir(parents=True, exist_ok=True)
    env = base_env()
    env.update(TGO_DATA_DIR=str(workdir / "data"))
    stack = Stack("sqlite", workdir, env, free_port())
    cli(env, "migrate")
    stack.start_api()
    stack.setup_sender()
    return stack
