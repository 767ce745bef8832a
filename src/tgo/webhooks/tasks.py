"""Webhook jobs: one delivery attempt per job, and the sweeper that publishes due retries and stranded
deliveries (the database is the truth; a duplicate job is a no-op thanks to the claim)."""

from __future__ import annotations

from typing import Any

from tgo.runtime import Runtime
from tgo.webhooks.jobs import attempt_delivery, purge_old_deliveries, sweep_due_deliveries


async def deliver_webhook(runtime: Runtime, payload: dict[str, Any]) -> None:
    await attempt_delivery(runtime, int(payload["delivery_id"]))


async def sweep_webhooks(runtime: Runtime) -> None:
    await sweep_due_deliveries(runtime)


async def purge_webhooks(runtime: Runtime) -> None:
    await purge_old_deliveries(runtime)
