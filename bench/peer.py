"""The peer: the Jasmin SMS gateway 0.11.1 (own venv, bench/jasmin) with its HTTP API /send, RabbitMQ and
Redis on loopback, its SMPP client connector bound to a local SMSC simulator (bench/smsc.py)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bench.jasmin.gateway import JasminGateway
from bench.load import Load, measure
from bench.stack import ROOT, Proc, free_port


def jasmin_send(workdir: Path, warmup_s: float, duration_s: float, connections: int) -> dict[str, Any]:
    workdir.mkdir(parents=True, exist_ok=True)
    smsc_port = free_port()
    smsc = Proc("smsc", [sys.executable, "-m", "bench.smsc", str(smsc_port)], {}, workdir)
    import os

    smsc.env = dict(os.environ, PYTHONPATH=str(ROOT))
    smsc.start()
    gw = JasminGateway(workdir, http_api=True)
    try:
        gw.start()
        gw.provision("tgo", "secret", smsc=("127.0.0.1", smsc_port))
        deadline = time.monotonic() + 20
        while "bound" not in gw.jcli("smppccm -l").lower() and time.monotonic() < deadline:
            time.sleep(0.5)
        body = urlencode(
            {
                "username": "tgo",
                "password": "secret",
                "to": "201010000000",
                "content": "Your code is ready: 4821",
            }
        )
        load = Load(
            f"http://127.0.0.1:{gw.http_port}",
            "/send",
            "POST",
            body,
            {"Content-Type": "application/x-www-form-urlencoded"},
            connections=connections,
        )
        result = measure(load, warmup_s, duration_s)
        from bench.jasmin.gateway import DEFAULT_VENV

        result["jasmin_version"] = "0.11.1"
        result["venv"] = str(DEFAULT_VENV.relative_to(ROOT))
        return result
    finally:
        gw.stop()
        smsc.stop()
