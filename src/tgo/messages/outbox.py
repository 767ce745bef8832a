"""The committed rows are the queue (a transactional outbox, issue 15): a worker woken by the one job the
group commit publishes per batch (``messages.deliver_due``) claims the due messages no worker has taken, in
batches, and delivers them. The sweeper (``messages.sweeper``) stays the safety net for a lost wake-up or a
worker that died holding rows."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import structlog

from tgo.kit.clock import now
from tgo.messages.delivery import deliver_claimed
from tgo.messages.repository import DeliveryQueue
from tgo.runtime import Runtime

log = structlog.get_logger("tgo.messages.outbox")


async def deliver_due(runtime: Runtime) -> int:
    """Claim and deliver waiting messages until a claim comes back short; returns how many were claimed."""
    limit = runtime.settings.deliver_claim_batch
    lease = timedelta(seconds=runtime.settings.delivery_claim_seconds)
    total = 0
    while True:
        async with runtime.db.session_scope() as s:
            claimed = await DeliveryQueue(s).claim_fresh(now(), lease, limit=limit)
        if not claimed:
            return total
        total += len(claimed)
        outcomes = await asyncio.gather(
            *(deliver_claimed(runtime, message, name) for message, name in claimed), return_exceptions=True
        )
        failed = sum(1 for o in outcomes if isinstance(o, BaseException))
        if failed:  # each stays queued and leased: the sweeper re-publishes it once its lease is stale
            log.warning("deliver_due_errors", failed=failed, claimed=len(claimed))
        if len(claimed) < limit:
            return total


class OutboxRunner:
    """One ``deliver_due`` loop per process at a time: a wake-up that arrives while it runs makes it run once
    more instead of starting another (a burst of committed batches would otherwise start a loop per wake-up,
    each claiming a batch, and the deliveries would outnumber the database pool many times over)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._running = False
        self._again = False

    async def wake(self) -> int:
        """Deliver what is waiting (or have the running loop look again); returns how many this call claimed."""
        if self._running:
            self._again = True
            return 0
        self._running = True
        total = 0
        try:
            while True:
                self._again = False
                total += await deliver_due(self.runtime)
                if not self._again:
                    return total
        finally:
            self._running = False


async def deliver_due_task(runtime: Runtime, payload: dict[str, Any]) -> None:
    await runtime.outbox.get().wake()
