"""SMS in the metrics: the parts the SMSC accepted and the receipts recorded, by state (SMPP simulator)."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client import REGISTRY

from tests.conftest import MakeKey
from tests.sms.helpers import bearer, verified_sender, wait_message
from tests.sms.test_delivery import LONG_GSM, send, start_smsc
from tgo.models import Tenant
from tgo.runtime import Runtime


@pytest.fixture
async def auth(make_key: MakeKey, tenant: Tenant) -> dict[str, str]:
    return bearer(await make_key(tenant, "*"))


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_parts_and_receipts_are_counted(
    client: httpx.AsyncClient, auth: dict[str, str], runtime: Runtime
) -> None:
    sim, _ = await start_smsc(runtime)
    sender = await verified_sender(client, auth)
    parts, delivered = (
        sample("tgo_sms_parts_submitted_total"),
        sample("tgo_sms_receipts_total", state="DELIVRD"),
    )
    created = await send(client, auth, sender, body=LONG_GSM)
    done = await wait_message(client, auth, created["id"], "delivered", "undelivered", "failed")
    assert done["status"] == "delivered" and created["segments"] > 1
    assert sample("tgo_sms_parts_submitted_total") - parts == created["segments"] == len(sim.accepted)
    assert sample("tgo_sms_receipts_total", state="DELIVRD") - delivered == created["segments"]
