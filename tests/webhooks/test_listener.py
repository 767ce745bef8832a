"""The webhook listener is registered in every kind of process that can emit events (API, worker, CLI)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = """
from tgo import cli
async def listeners(rt):
    return [f.__module__ + "." + f.__name__ for f in rt.registry.listeners]
print(",".join(cli.run(True, listeners)))
"""


def test_a_cli_process_records_webhook_events(tmp_path: Path) -> None:
    env = {**os.environ, "TGO_DATA_DIR": str(tmp_path), "TGO_LOG_LEVEL": "WARNING"}
    env.pop("TGO_DATABASE_URL", None)
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    assert "tgo.webhooks.outbox.record_event" in out.stdout.strip().split(","), out.stdout + out.stderr
