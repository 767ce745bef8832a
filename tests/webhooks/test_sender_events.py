"""A real state machine's events reach the endpoint: registering and verifying a sender number sends
signed ``sender_number.status_changed`` events carrying the number as the API shows it."""

from __future__ import annotations

import httpx
from standardwebhooks.webhooks import Webhook as StandardWebhook

from tests.fixtures.connect import ConnectHelper
from tests.webhooks.conftest import wait_for
from tests.webhooks.receiver import Receiver
from tgo.runtime import Runtime

OWNER = "+201001187188"


async def test_sender_number_becoming_active_is_pushed(
    client: httpx.AsyncClient, headers: dict[str, str], runtime: Runtime, receiver: Receiver
) -> None:
    r = await client.post(
        "/api/v1/webhooks",
        headers=headers,
        json={"url": receiver.url, "events": ["sender_number.status_changed"]},
    )
    verifier = StandardWebhook(r.json()["secret"])
    connect = ConnectHelper(runtime)
    await connect.account(OWNER, verified=True)
    number = (
        await client.post(
            "/api/v1/sender-numbers", json={"phone": OWNER, "display_name": "Support"}, headers=headers
        )
    ).json()
    r = await client.post(
        f"/api/v1/sender-numbers/{number['id']}/verify",
        json={"otp": await connect.otp(OWNER)},
        headers=headers,
    )
    assert r.status_code == 200 and r.json()["can_send"] is True, r.text
    shown = (await client.get(f"/api/v1/sender-numbers/{number['id']}", headers=headers)).json()

    async def active() -> object:
        payloads = [verifier.verify(req.body, req.headers) for req in receiver.delivered]
        return [p for p in payloads if p["data"].get("status") == "active"]

    [event] = await wait_for(active, what="the sender number's activation event")
    assert event["type"] == "sender_number.status_changed"
    assert event["data"]["id"] == number["id"] and event["data"]["phone"] == OWNER
    assert event["data"]["verification_status"] == "verified" and event["data"]["can_send"] is True
    assert {k: event["data"][k] for k in ("id", "phone", "display_name", "status")} == {
        k: shown[k] for k in ("id", "phone", "display_name", "status")
    }
