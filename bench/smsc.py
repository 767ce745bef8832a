"""A local SMSC for Jasmin's connector: the SMS tests' simulator (tests/sms/smsc.py) in a process of its own.
`python -m bench.smsc PORT` binds 127.0.0.1:PORT, accepts every submit_sm (no receipts)."""

from __future__ import annotations

import asyncio
import sys


async def serve(port: int) -> None:
    from tests.sms.smsc import Script, SmscSimulator

    sim = SmscSimulator(Script(password="jasmin", receipts=False))
    await sim.start(port)
    print(f"smsc listening on 127.0.0.1:{port}", flush=True)
    while True:
        await asyncio.sleep(5)
        sim.accepted.clear()  # a benchmark sends many; keep memory flat


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1])))
