"""SMS delivery has its own attempt limit, ``TGO_SMS_DELIVERY_MAX_ATTEMPTS``, apart from Connect's
``TGO_DELIVERY_MAX_ATTEMPTS``."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.conftest import MakeKey
from tests.sms.helpers import bearer, verified_sender, wait_message
from tests.sms.smsc import SmscSimulator
from tgo.channels.smpp import SmppClient
from tgo.config import Settings
from tgo.models import Tenant
from tgo.runtime import Runtime
from tgo.sms.jobs import install_channel


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Connect's limit stays high: only the SMS setting can fail the message on its first retryable error.
    return settings.model_copy(update={"sms_delivery_max_attempts": 1, "delivery_max_attempts": 12})


@pytest.fixture
async def auth(make_key: MakeKey, tenant: Tenant) -> dict[str, str]:
    return bearer(await make_key(tenant, "*"))


def test_the_setting_defaults_to_connects_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings(data_dir=tmp_path).sms_delivery_max_attempts == 12
    monkeypatch.setenv("TGO_SMS_DELIVERY_MAX_ATTEMPTS", "4")
    assert Settings(data_dir=tmp_path).sms_delivery_max_attempts == 4


async def test_the_sms_limit_fails_a_message_whose_smsc_stays_down(
    client: httpx.AsyncClient, auth: dict[str, str], runtime: Runtime
) -> None:
    sim = SmscSimulator()
    port = await sim.start()
    await sim.stop()  # the port is closed now: the SMSC is down
    install_channel(
        runtime,
        SmppClient(
            "127.0.0.1",
            port,
            "tgo",
            "secret",
            response_timeout=0.5,
            reconnect_backoff=0.01,
            connect_timeout=0.5,
        ),
    )
    sender = await verified_sender(client, auth)
    r = await client.post(
        "/v1/sms/messages", json={"senderId": sender["id"], "to": "+61412345678", "body": "hi"}, headers=auth
    )
    assert r.status_code == 201, r.text
    done = await wait_message(client, auth, r.json()["id"], "failed")
    assert done["errorCode"] == "smsc_unreachable"
