"""The per-sender delivery pace at its default (80/s) for the reliability table, shared through Redis by two
worker runtimes (as two worker processes): 400 deliveries of one sender number ask for a slot at once; they
go out at no more than 80 in any second and every one of them waits for its slot (none gives up). The
end-to-end proof that a paced message is delivered late and never failed is tests/messages/test_pacing.py."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from tests.reliability.report import record
from tgo.config import Settings
from tgo.messages.pacing import pace
from tgo.wiring import build_runtime

BURST = 400


@pytest.mark.reliability
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_sender_pace_at_its_default_shared_by_two_workers(settings: Settings) -> None:
    shared = settings.model_copy(
        update={
            "redis_url": "redis://127.0.0.1:6379/0",
            "queue_name": f"tgo-pace-rel-{uuid.uuid4().hex[:10]}",
        }
    )
    rate = int(shared.sender_rate_per_second)
    assert rate == 80  # the default under test
    workers = [build_runtime(shared), build_runtime(shared)]
    released: list[float] = []
    loop = asyncio.get_running_loop()

    async def deliver(i: int) -> None:
        await pace(workers[i % 2], sender_number_id=1)
        released.append(loop.time())

    started = time.monotonic()
    try:
        await asyncio.gather(*(deliver(i) for i in range(BURST)))
    finally:
        for rt in workers:
            await rt.close()
    took = time.monotonic() - started
    released.sort()
    busiest = max(sum(1 for t in released[i:] if t - start < 1.0) for i, start in enumerate(released))
    record(
        "sender_pace",
        rate_per_second=rate,
        burst=BURST,
        workers=2,
        released=len(released),
        busiest_second=busiest,
        seconds=round(took, 1),
    )
    assert len(released) == BURST
    # Measured when each waiter resumed, a Redis round trip or more after its slot was granted: 5 % slack.
    assert busiest <= rate * 1.05, busiest
    # 400 at 80/s: the first 80 at once, the last no sooner than 4 s later (and well before giving up).
    assert BURST / rate - 1 <= took < shared.delivery_claim_seconds / 2
