"""A local SMSC for the SMPP benchmarks: the SMS tests' simulator (tests/sms/smsc.py) in a process of its own.

    python -m bench.smsc PORT [--password P] [--receipts] [--stats FILE]

binds 127.0.0.1:PORT and accepts every submit_sm; with ``--receipts`` each accepted submit that asks for one
gets a DELIVRD receipt (``deliver_sm``) back. With ``--stats`` it writes, every 0.2 s and at exit, a JSON
object ``{"accepted": N, "first_at": t, "last_at": t}`` (Unix times of the first and last accepted submit):
the SMPP egress the benchmark measures. Accepted submits are counted, not kept (memory stays flat)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import time
from pathlib import Path
from typing import Any


class Counted(list[Any]):
    """Stands in for the simulator's list of accepted submits: counts them and times the first and last."""

    def __init__(self) -> None:
        super().__init__()
        self.total = 0
        self.first_at: float | None = None
        self.last_at: float | None = None

    def append(self, item: Any) -> None:
        self.total += 1
        self.last_at = time.time()
        self.first_at = self.first_at or self.last_at

    def stats(self) -> dict[str, Any]:
        return {"accepted": self.total, "first_at": self.first_at, "last_at": self.last_at}


def _write(path: Path | None, counted: Counted) -> None:
    if path is not None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(counted.stats()))
        os.replace(tmp, path)


async def serve(port: int, password: str, receipts: bool, stats: Path | None) -> None:
    from tests.sms.smsc import Script, SmscSimulator

    sim = SmscSimulator(Script(password=password, receipts=receipts, receipt_delay=0.0))
    counted = Counted()
    sim.accepted = counted
    await sim.start(port)
    print(f"smsc listening on 127.0.0.1:{port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.2)
        _write(stats, counted)
        sim.receipts_acked.clear()  # a benchmark sends many; keep memory flat
    await sim.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("--password", default="jasmin")
    parser.add_argument("--receipts", action="store_true")
    parser.add_argument("--stats", type=Path, default=None)
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.password, args.receipts, args.stats))


if __name__ == "__main__":
    main()
