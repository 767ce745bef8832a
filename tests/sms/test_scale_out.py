"""Scale-out: an API runtime publishes SMS jobs to RabbitMQ; a separate worker runtime, configured with
TGO_SMPP_* settings, verifies the sender, binds to the SMSC (the simulator) and applies the receipts."""

from __future__ import annotations

from typing import Any, cast

import httpx
import pytest
from pydantic import SecretStr

from tests.fixtures.amqp import AMQP_URL, delete_queues, queue_name
from tests.sms.helpers import bearer, eventually
from tests.sms.smsc import Script, SmscSimulator
from tgo.apikeys.service import create_api_key
from tgo.app import create_app
from tgo.channels.smpp import SmppClient
from tgo.config import Settings
from tgo.tenants.service import create_tenant
from tgo.wiring import build_runtime
from tgo.worker.broker import start_background

ARABIC = "مرحبا بكم في خدمة الرسائل القصيرة من أكمي. رمز التحقق الخاص بك هو ١٢٣٤٥٦. لا تشاركه مع أي شخص. " * 2


@pytest.mark.postgres_only
async def test_sms_jobs_travel_through_rabbitmq_to_a_worker_bound_to_the_smsc(settings: Settings) -> None:
    sim = SmscSimulator(Script(password="pw"))
    port = await sim.start()
    queue = queue_name("tgo-test-sms")
    scaled = settings.model_copy(
        update={
            "broker_url": AMQP_URL,
            "queue_name": queue,
            "run_workers": False,
            "smpp_host": "127.0.0.1",
            "smpp_port": port,
            "smpp_system_id": "tgo",
            "smpp_password": SecretStr("pw"),
        }
    )
    api = build_runtime(scaled)
    worker = build_runtime(scaled)
    try:
        await api.start()
        worker.broker.get().taskiq.is_worker_process = True
        await worker.start()
        start_background(worker, consume=True)
        async with api.db.session_scope() as s:
            tenant = await create_tenant(s, slug="acme", domain="acme.localhost", name=None)
            _, key = await create_api_key(s, tenant.id, name="t", scopes="*")
        auth = bearer(key)
        app = create_app(scaled, api)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=cast(Any, app)), base_url="http://x"
        ) as client:
            r = await client.post(
                "/v1/sms/senders",
                json={"name": "Acme", "senderId": "Acme", "senderType": "alphanumeric_id", "country": "AU"},
                headers=auth,
            )
            sender = r.json()
            await client.post(f"/v1/sms/senders/{sender['id']}/verify", headers=auth)

            async def active() -> object:
                body = (await client.get(f"/v1/sms/senders/{sender['id']}", headers=auth)).json()
                return body["status"] == "active"

            await eventually(active, timeout=20)
            r = await client.post(
                "/v1/sms/messages",
                json={"senderId": sender["id"], "to": "+61412345678", "body": ARABIC},
                headers=auth,
            )
            assert r.status_code == 201, r.text
            created = r.json()

            async def delivered() -> object:
                body = (await client.get(f"/v1/sms/messages/{created['id']}", headers=auth)).json()
                return body if body["status"] == "delivered" else None

            await eventually(delivered, timeout=20)
        assert len(sim.accepted) == created["segments"] == 3
        assert isinstance(worker.sms_channel.get(), SmppClient) and not api.sms_channel.built
    finally:
        await worker.close()
        await api.close()
        await sim.stop()
        await delete_queues(queue)
