"""Schemathesis (the `st` CLI, v4) against the app's own /openapi.json, served by a real `tgo serve` process:
every operation, the fuzzing and stateful phases (and the coverage phase in the full run), every check
(status codes, content types, headers and bodies as documented; schema-valid data accepted, invalid data
rejected; authentication enforced). Values no schema can describe come from ``schemathesis.toml``."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.fixtures.processes import Proc, free_port, process_env, wait_http
from tgo.apikeys.service import create_api_key
from tgo.config import Settings
from tgo.tenants.service import create_tenant
from tgo.wiring import build_runtime

CONFIG = Path(__file__).with_name("schemathesis.toml")


@dataclass
class FuzzResult:
    returncode: int
    cases: int
    failures: int
    output: str


async def run_schemathesis(
    settings: Settings,
    tmp: Path,
    max_examples: int,
    phases: str,
    max_time: int,
    checks: str = "not_a_server_error,response_schema_conformance",
) -> FuzzResult:
    """The server under test is the only process working on the database: this one uses a runtime that is
    never started (a started one would run workers and sweepers here, and a write transaction of theirs
    held while this loop waits would stall every write of the server behind SQLite's lock)."""
    runtime = build_runtime(settings)
    try:
        async with runtime.db.session_scope() as s:
            tenant = await create_tenant(s, slug="fuzz", domain="fuzz.localhost")
            _, key = await create_api_key(s, tenant.id, name="fuzz", scopes="*")
    finally:
        await runtime.close()
    db_url = settings.resolved_database_url
    port = free_port()
    env = process_env(
        db_url,
        runtime.settings.secret(),
        tmp / "d",
        TGO_LOG_LEVEL="WARNING",
        TGO_API_RATE_LIMIT_PER_KEY="100000/second",
        TGO_API_RATE_LIMIT_PER_TENANT="100000/second",
        TGO_WEBHOOK_ALLOW_PRIVATE_NETWORKS="false",
    )
    api = Proc("fuzz-api", ["serve", "--port", str(port)], env, tmp).start()
    try:
        await asyncio.to_thread(wait_http, f"http://127.0.0.1:{port}/healthz", proc=api, timeout=60)
        st = Path(sys.executable).with_name("st")
        done = await asyncio.to_thread(
            subprocess.run,
            [
                str(st),
                "--config-file",
                str(CONFIG),
                "run",
                f"http://127.0.0.1:{port}/openapi.json",
                "-H",
                f"X-Api-Key: {key}",
                "-H",
                "Host: fuzz.localhost",
                "--checks",
                checks,
                "--phases",
                phases,
                "-n",
                str(max_examples),
                "--max-time",
                str(max_time),
                "--seed",
                "42",
                "--no-shrink",
                "--continue-on-failure",
                "--output-truncate",
                "false",
                "--warnings",
                "off",
            ],
            capture_output=True,
            text=True,
            timeout=max_time + 120,
            env={**os.environ, "NO_COLOR": "1"},
            cwd=tmp,  # st keeps its cache in ./.schemathesis
        )
    finally:
        api.stop()
    out = done.stdout + done.stderr
    generated = re.search(r"(\d+) generated", out)
    found = re.search(r"found (\d+) unique failures", out)
    return FuzzResult(
        done.returncode,
        int(generated.group(1)) if generated else 0,
        int(found.group(1)) if found else (0 if done.returncode == 0 else -1),
        out + "\n" + api.tail(40),
    )
