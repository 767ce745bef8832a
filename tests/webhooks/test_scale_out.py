"""Scale-out: the API process publishes delivery jobs to RabbitMQ after commit and a separate worker
runtime consumes them; a delivery written without a publishing runtime is found by the worker's sweeper."""

from __future__ import annotations

import pytest
from standardwebhooks.webhooks import Webhook as StandardWebhook

from tests.fixtures.amqp import AMQP_URL, delete_queues, queue_name
from tests.webhooks.conftest import wait_for
from tests.webhooks.receiver import Receiver
from tgo import events
from tgo.config import Settings
from tgo.models import Tenant
from tgo.webhooks.service import create_webhook
from tgo.wiring import build_runtime
from tgo.worker.broker import start_background


@pytest.mark.postgres_only
async def test_jobs_travel_through_rabbitmq_to_a_worker(
    settings: Settings, tenant: Tenant, receiver: Receiver
) -> None:
    queue = queue_name("tgo-test-webhooks")
    scaled = settings.model_copy(update={"broker_url": AMQP_URL, "queue_name": queue, "run_workers": False})
    api = build_runtime(scaled)
    worker = build_runtime(scaled)
    try:
        await api.start()
        # As a worker process: taskiq-aio-pika opens its consuming channel at startup only when the broker
        # is flagged as a worker (Broker.consume does not flag it before the runtime's startup).
        worker.broker.get().taskiq.is_worker_process = True
        await worker.start()
        start_background(worker, consume=True)

        async with api.db.session_scope() as s:
            endpoint, secret = await create_webhook(
                s, tenant.id, url=receiver.url, events=["message.sent"], settings=scaled
            )
        async with api.db.session_scope() as s:
            await events.emit(s, tenant.id, events.EventType.MESSAGE_SENT, {"id": 1, "status": "sent"})

        async def first() -> object:
            return receiver.delivered

        [req] = await wait_for(first, timeout=20, what="a delivery through RabbitMQ")
        assert StandardWebhook(secret).verify(req.body, req.headers)["data"] == {"id": 1, "status": "sent"}

        # Written by a process whose runtime never started (nothing published): the sweeper sends it.
        loose = build_runtime(scaled)
        try:
            async with loose.db.session_scope() as s:
                await events.emit(s, tenant.id, events.EventType.MESSAGE_SENT, {"id": 2, "status": "sent"})
        finally:
            await loose.close()

        async def second() -> bool:
            return len(receiver.delivered) == 2

        await wait_for(second, timeout=20, what="the swept delivery")
        assert receiver.delivered[1].json()["data"]["id"] == 2
        assert endpoint.id
    finally:
        await worker.close()
        await api.close()
        await delete_queues(queue)
