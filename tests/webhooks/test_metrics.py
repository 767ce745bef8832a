"""Webhook attempts in the metrics: by outcome (succeeded, pending: will retry, failed) with their latency,
and the sweeper's backlog of pending deliveries."""

from __future__ import annotations

from typing import Any

import httpx
from prometheus_client import REGISTRY

from tests.webhooks.conftest import wait_for
from tests.webhooks.receiver import Receiver
from tests.webhooks.test_delivery import deliveries, emit, message, register
from tgo import events
from tgo.models import Tenant
from tgo.runtime import Runtime
from tgo.webhooks.jobs import sweep_due_deliveries


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def outcomes() -> dict[str, float]:
    found = {o: sample("tgo_webhook_deliveries_total", outcome=o) for o in ("succeeded", "pending", "failed")}
    return found | {"latency_count": sample("tgo_webhook_delivery_duration_seconds_count")}


async def test_attempts_are_counted_by_outcome_with_their_latency(
    client: httpx.AsyncClient, headers: dict[str, str], runtime: Runtime, tenant: Tenant, receiver: Receiver
) -> None:
    hook = await register(client, headers, receiver.url)
    before = outcomes()
    receiver.then(500)  # the first attempt fails and is retried, the second succeeds
    await emit(runtime, tenant, events.EventType.MESSAGE_SENT, message("sent"))

    async def succeeded() -> Any:
        found = await deliveries(client, headers, hook["id"])
        return found and found[0]["status"] == "succeeded"

    await wait_for(succeeded, what="the delivery succeeded after a retry")
    after = outcomes()
    assert {k: after[k] - before[k] for k in after} == {
        "succeeded": 1,
        "pending": 1,
        "failed": 0,
        "latency_count": 2,
    }


async def test_the_sweeper_measures_the_pending_backlog(
    client: httpx.AsyncClient, headers: dict[str, str], runtime: Runtime, tenant: Tenant, receiver: Receiver
) -> None:
    await register(client, headers, receiver.url)
    receiver.default = 503  # never succeeds: the delivery stays pending, retried
    await emit(runtime, tenant, events.EventType.MESSAGE_SENT, message("sent"))
    await sweep_due_deliveries(runtime)
    assert sample("tgo_backlog", queue="webhooks") == 1
    assert sample("tgo_backlog_oldest_age_seconds", queue="webhooks") >= 0
    receiver.default = 200

    async def drained() -> bool:
        await sweep_due_deliveries(runtime)
        return sample("tgo_backlog", queue="webhooks") == 0

    await wait_for(drained, what="the backlog drained")
    assert sample("tgo_backlog_oldest_age_seconds", queue="webhooks") == 0
