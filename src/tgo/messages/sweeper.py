"""The message sweeper: re-publishes delivery jobs that may be lost (a crash between commit and publish, a
broker outage, a worker killed holding a claim) and retries that are due.

Each row it publishes is stamped (``claimed_until = now``, already expired, so the job claims it at once) and
is not published again for ``sweeper_stale_seconds``: without the stamp every sweep re-published every
waiting row, so a backlog of jobs in the broker grew by the whole backlog on each tick. (Asking RabbitMQ how
many jobs its queue holds, to skip rows whose job is merely waiting, was tried: a quorum queue's count in a
passive declare can stay stale for minutes, and rows whose job was lost then waited that long.)"""

from __future__ import annotations

from datetime import timedelta

import structlog

from tgo.kit.clock import now
from tgo.messages.repository import DeliveryQueue
from tgo.metrics import SWEEPER_REPUBLISHED, observe_backlog
from tgo.runtime import Runtime
from tgo.worker.registry import publish

log = structlog.get_logger("tgo.messages.sweeper")

BATCH = 2000
JOB_SIZE = 100  # ids per re-published job


async def sweep(runtime: Runtime) -> int:
    """Re-publish messages whose job may be lost or whose retry is due; returns how many."""
    at = now()
    stale_before = at - timedelta(seconds=runtime.settings.sweeper_stale_seconds)
    async with runtime.db.session_scope() as s:
        queue = DeliveryQueue(s)
        ids = await queue.take_due(at, stale_before, include_never_attempted=True, limit=BATCH)
        observe_backlog("messages", *await queue.backlog(), at)
    if ids:  # re-publishing is the exception (a crash, an outage, a retry): worth a line in the log
        log.warning("sweep_republish", count=len(ids))
    # As batches (issue 16): one job per JOB_SIZE rows, claimed by the worker in one statement.
    for n in range(0, len(ids), JOB_SIZE):
        chunk = ids[n : n + JOB_SIZE]
        try:
            await publish(runtime, "messages.deliver_batch", {"ids": chunk})
            SWEEPER_REPUBLISHED.labels("messages").inc(len(chunk))
        except Exception as exc:  # the broker is down: the stamp expires and a later sweep tries again
            log.warning("sweep_publish_failed", published=n, left=len(ids) - n, error=type(exc).__name__)
            break
    return len(ids)
