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


async def deliver_due_task(runtime: Runtime, payload: dict[str, Any]) -> None:
    await deliver_due(runtime)
