"""Finished deliveries, their attempts and events are deleted after TGO_WEBHOOK_RETENTION_DAYS; pending
and recent ones stay."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select

from tests.conftest import Clock
from tests.webhooks.conftest import wait_for
from tests.webhooks.receiver import Receiver
from tests.webhooks.test_delivery import deliveries, emit, message, register
from tgo import events
from tgo.models import Tenant, WebhookDelivery, WebhookDeliveryAttempt, WebhookEvent
from tgo.models.base import Base
from tgo.runtime import Runtime
from tgo.webhooks.jobs import purge_old_deliveries


async def _count(runtime: Runtime, model: type[Base]) -> int:
    async with runtime.db.session_scope() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def test_old_finished_deliveries_are_purged(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    runtime: Runtime,
    tenant: Tenant,
    receiver: Receiver,
    frozen_clock: Clock,
) -> None:
    hook = await register(client, headers, receiver.url)
    await emit(runtime, tenant, events.EventType.MESSAGE_SENT, message("sent", message_id=1))

    async def delivered() -> object:
        log = await deliveries(client, headers, hook["id"])
        return log and log[0]["status"] == "succeeded"

    await wait_for(delivered, what="the first delivery")
    await receiver.stop()
    await emit(runtime, tenant, events.EventType.MESSAGE_SENT, message("sent", message_id=2))

    async def attempted() -> bool:
        log = await deliveries(client, headers, hook["id"])
        return len(log) == 2 and log[0]["attempt_count"] >= 1

    await wait_for(attempted, what="a failed attempt of the second delivery")
    assert await purge_old_deliveries(runtime) == 0

    frozen_clock.advance(days=31)
    assert await purge_old_deliveries(runtime) == 1
    [left] = await deliveries(client, headers, hook["id"])
    assert left["event"]["data"]["id"] == 2
    assert await _count(runtime, WebhookDelivery) == 1
    assert await _count(runtime, WebhookEvent) == 1
    async with runtime.db.session_scope() as s:
        attempts = list(await s.scalars(select(WebhookDeliveryAttempt.delivery_id)))
    assert attempts and set(attempts) == {left["id"]}
