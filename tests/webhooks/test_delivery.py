"""Deliveries to a real HTTP receiver: Standard Webhooks signatures checked by the independent
``standardwebhooks`` package, at-least-once delivery through refusals, 500s and timeouts with the same
webhook-id, 410 disabling the endpoint, replay, secret rotation, and the delivery log."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook as StandardWebhook
from standardwebhooks.webhooks import WebhookVerificationError

from tests.conftest import MakeTenant
from tests.webhooks.conftest import wait_for
from tests.webhooks.receiver import Receiver
from tgo import events
from tgo.models import Tenant
from tgo.runtime import Runtime
from tgo.webhooks.jobs import attempt_delivery, sweep_due_deliveries

MESSAGE_FLOW = [
    events.EventType.MESSAGE_QUEUED,
    events.EventType.MESSAGE_SENT,
    events.EventType.MESSAGE_DELIVERED,
    events.EventType.MESSAGE_READ,
]


def message(status: str, message_id: int = 41) -> dict[str, Any]:
    return {
        "id": message_id,
        "status": status,
        "to": "+201001187188",
        "type": "text",
        "created_at": "2026-01-01T12:00:00Z",
    }


async def register(
    client: httpx.AsyncClient, headers: dict[str, str], url: str, names: list[str] | None = None
) -> Any:
    r = await client.post(
        "/api/v1/webhooks",
        headers=headers,
        json={"url": url, "events": names or [*MESSAGE_FLOW, "message.failed"]},
    )
    assert r.status_code == 201, r.text
    return r.json()


async def emit(runtime: Runtime, tenant: Tenant, event_type: events.EventType, data: dict[str, Any]) -> None:
    async with runtime.db.session_scope() as session:
        await events.emit(session, tenant.id, event_type, data)


async def deliveries(
    client: httpx.AsyncClient, headers: dict[str, str], webhook_id: int, **params: Any
) -> Any:
    r = await client.get(f"/api/v1/webhooks/{webhook_id}/deliveries", headers=headers, params=params)
    assert r.status_code == 200, r.text
    return r.json()["data"]


async def test_every_status_event_arrives_signed(
    client: httpx.AsyncClient, headers: dict[str, str], runtime: Runtime, tenant: Tenant, receiver: Receiver
) -> None:
    hook = await register(client, headers, receiver.url)
    for name in MESSAGE_FLOW:
        await emit(runtime, tenant, name, message(name.split(".")[1]))
    # Not subscribed: never sent.
    await emit(runtime, tenant, events.EventType.SENDER_NUMBER_STATUS_CHANGED, {"id": 1, "status": "active"})

    async def four() -> bool:
        return len(receiver.delivered) >= 4

    await wait_for(four, what="four deliveries")
    verifier = StandardWebhook(hook["secret"])
    got = []
    for req in receiver.delivered:
        assert req.method == "POST" and req.path == "/hooks/tgo"
        assert req.headers["content-type"] == "application/json"
        assert abs(int(req.headers["webhook-timestamp"]) - time.time()) < 60
        payload = verifier.verify(req.body, req.headers)
        assert payload["id"] == req.headers["webhook-id"] and payload["id"].startswith("evt_")
        assert payload["timestamp"].endswith("Z")
        got.append(payload)
    got.sort(key=lambda p: p["sequence"])
    assert [p["type"] for p in got] == MESSAGE_FLOW
    assert [p["data"]["status"] for p in got] == ["queued", "sent", "delivered", "read"]
    assert got[0]["data"] == message("queued")
    assert len({p["sequence"] for p in got}) == 4

    # An independent verifier refuses a tampered body, a forged signature and an old timestamp.
    sample = receiver.delivered[0]
    with pytest.raises(WebhookVerificationError):
        verifier.verify(sample.body.replace(b'"status"', b'"statuz"'), sample.headers)
    with pytest.raises(WebhookVerificationError):
        StandardWebhook("whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=").verify(
            sample.body, sample.headers
        )
    old = {**sample.headers, "webhook-timestamp": str(int(time.time()) - 3600)}
    with pytest.raises(WebhookVerificationError):
        verifier.verify(sample.body, old)

    await asyncio.sleep(0.2)
    assert len(receiver.requests) == 4  # the sender-number event was not subscribed
    log = await deliveries(client, headers, hook["id"])
    assert len(log) == 4 and all(d["status"] == "succeeded" for d in log)
    first = log[-1]
    assert first["event"]["type"] == "message.queued" and first["event"]["data"]["status"] == "queued"
    assert first["attempt_count"] == 1 and first["last_status_code"] == 200
    [attempt] = first["attempts"]
    assert attempt["success"] is True and attempt["status_code"] == 200
    assert (
        attempt["response_body"] == '{"ok": true}' and attempt["latency_ms"] >= 0 and attempt["error"] is None
    )


async def test_receiver_down_then_back_loses_nothing_and_keeps_the_webhook_id(
    client: httpx.AsyncClient, headers: dict[str, str], runtime: Runtime, tenant: Tenant, receiver: Receiver
) -> None:
    hook = await register(client, headers, receiver.url)
    await receiver.stop()  # connection refused
    for i in range(5):
        await emit(runtime, tenant, events.EventType.MESSAGE_SENT, message("sent", message_id=100 + i))

    async def all_refused_once() -> bool:
        log = await deliveries(client, headers, hook["id"])
        return len(log) == 5 and all(d["attempt_count"] >= 1 for d in log)

    await wait_for(all_refused_once, what="a refused attempt per delivery")
    # Back, but failing for a while: 500s and a request that never gets an answer (read timeout).
    receiver.then(500, "hang", "binary", 503)
    await receiver.start()

    async def all_arrived() -> bool:
        return len({r.json()["id"] for r in receiver.delivered}) == 5

    await wait_for(all_arrived, timeout=20, what="every event after the outage")

    ids_by_event: dict[str, set[str]] = {}
    verifier = StandardWebhook(hook["secret"])
    for req in receiver.requests:
        ids_by_event.setdefault(req.json()["id"], set()).add(req.headers["webhook-id"])
        verifier.verify(req.body, req.headers)
    assert all(ids == {event_id} for event_id, ids in ids_by_event.items())
    assert sorted(r.json()["data"]["id"] for r in receiver.delivered) == [100, 101, 102, 103, 104]

    async def all_succeeded() -> object:
        log = await deliveries(client, headers, hook["id"])
        return all(d["status"] == "succeeded" for d in log) and log

    log = await wait_for(all_succeeded, what="every delivery succeeded")
    errors = [
        a["error"] or f"HTTP {a['status_code']}" for d in log for a in d["attempts"] if not a["success"]
    ]
    assert any(e.startswith("connect_error") for e in errors), errors
    assert any(e == "HTTP 500" for e in errors), errors
    assert any(e == "HTTP 503" for e in errors), errors
    binary = [a for d in log for a in d["attempts"] if a["response_body"] and "binary" in a["response_body"]]
    assert binary and "\x00" not in binary[0]["response_body"]
    assert any(e == "timeout" for e in errors), errors
    assert all(d["attempt_count"] == len(d["attempts"]) >= 2 for d in log)


async def test_gone_disables_the_endpoint(
    client: httpx.AsyncClient, headers: dict[str, str], runtime: Runtime, tenant: Tenant, receiver: Receiver
) -> None:
    hook = await register(client, headers, receiver.url)
    receiver.default = 410
    await emit(runtime, tenant, events.EventType.MESSAGE_SENT, message("sent"))

    async def disabled() -> bool:
        body = (await client.get(f"/api/v1/webhooks/{hook['id']}", headers=headers)).json()
        return not body["active"] and body

    body = await wait_for(disabled, what="the endpoint disabled")
    assert body["disabled_reason"] == "endpoint_gone" and body["disabled_at"] is not None
    [delivery] = await deliveries(client, headers, hook["id"])
    assert delivery["status"] == "failed" and delivery["last_error"] == "endpoint_gone"
    assert delivery["last_status_code"] == 410 and delivery["attempt_count"] == 1

    # Nothing more is sent to it, and a replay says why.
    await emit(runtime, tenant, events.EventType.MESSAGE_READ, message("read"))
    await asyncio.sleep(0.2)
    assert len(receiver.requests) == 1
    r = await client.post(
        f"/api/v1/webhooks/{hook['id']}/deliveries/{delivery['id']}/replay", headers=headers
    )
    assert r.status_code == 409 and r.json()["code"] == "webhook_disabled"
    # Re-enabled by its owner: events flow again.
    receiver.default = 200
    r = await client.patch(f"/api/v1/webhooks/{hook['id']}", headers=headers, json={"active": True})
    assert r.json()["active"] and r.json()["disabled_reason"] is None
    await emit(runtime, tenant, events.EventType.MESSAGE_READ, message("read"))

    async def one_delivered() -> object:
        return receiver.delivered

    await wait_for(one_delivered, what="a delivery after re-enabling")


async def test_failed_delivery_is_replayed_with_the_same_webhook_id(
    client: httpx.AsyncClient, headers: dict[str, str], runtime: Runtime, tenant: Tenant, receiver: Receiver
) -> None:
    runtime.settings.webhook_retry_window_seconds = 0  # the first failure is final
    hook = await register(client, headers, receiver.url)
    receiver.default = 500
    await emit(runtime, tenant, events.EventType.MESSAGE_FAILED, message("failed"))

    async def failed() -> object:
        log = await deliveries(client, headers, hook["id"], status="failed")
        return log

    [delivery] = await wait_for(failed, what="a failed delivery")
    assert delivery["attempt_count"] == 1 and delivery["last_error"] == "HTTP 500"
    assert await deliveries(client, headers, hook["id"], status="pending") == []
    first_id = receiver.requests[0].headers["webhook-id"]

    receiver.default = 200
    r = await client.post(
        f"/api/v1/webhooks/{hook['id']}/deliveries/{delivery['id']}/replay", headers=headers
    )
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "pending" and r.json()["id"] == delivery["id"]

    async def succeeded() -> object:
        r = await client.get(f"/api/v1/webhooks/{hook['id']}/deliveries/{delivery['id']}", headers=headers)
        return r.json()["status"] == "succeeded" and r.json()

    done = await wait_for(succeeded, what="the replay delivered")
    assert done["attempt_count"] == 2 and [a["success"] for a in done["attempts"]] == [False, True]
    assert [r.headers["webhook-id"] for r in receiver.requests] == [first_id, first_id]
    StandardWebhook(hook["secret"]).verify(receiver.requests[1].body, receiver.requests[1].headers)
    assert receiver.requests[1].body == receiver.requests[0].body

    # Unknown delivery ids are 404; the status filter is validated.
    r = await client.post(f"/api/v1/webhooks/{hook['id']}/deliveries/999999/replay", headers=headers)
    assert r.status_code == 404 and r.json()["code"] == "webhook_delivery_not_found"
    r = await client.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=headers, params={"status": "x"})
    assert r.status_code == 422


async def test_a_pending_delivery_cannot_be_replayed(
    client: httpx.AsyncClient, headers: dict[str, str], runtime: Runtime, tenant: Tenant, receiver: Receiver
) -> None:
    hook = await register(client, headers, receiver.url)
    await receiver.stop()
    await emit(runtime, tenant, events.EventType.MESSAGE_SENT, message("sent"))
    [delivery] = await deliveries(client, headers, hook["id"])
    assert delivery["status"] == "pending"
    r = await client.post(
        f"/api/v1/webhooks/{hook['id']}/deliveries/{delivery['id']}/replay", headers=headers
    )
    assert r.status_code == 409 and r.json()["code"] == "webhook_delivery_pending"
    # Deactivating fails what was pending (replayable later).
    await client.patch(f"/api/v1/webhooks/{hook['id']}", headers=headers, json={"active": False})

    async def failed() -> object:
        [d] = await deliveries(client, headers, hook["id"])
        return d["status"] == "failed" and d

    assert (await wait_for(failed, what="pending failed on deactivation"))[
        "last_error"
    ] == "endpoint_disabled"


async def test_rotation_signs_with_both_secrets_during_the_grace_period(
    client: httpx.AsyncClient, headers: dict[str, str], runtime: Runtime, tenant: Tenant, receiver: Receiver
) -> None:
    hook = await register(client, headers, receiver.url)
    old_secret = hook["secret"]
    r = await client.post(f"/api/v1/webhooks/{hook['id']}/rotate-secret", headers=headers)
    assert r.status_code == 200, r.text
    rotated = r.json()
    new_secret = rotated["secret"]
    assert new_secret.startswith("whsec_") and new_secret != old_secret
    assert rotated["secret_rotated_at"] and rotated["previous_secret_expires_at"]
    await emit(runtime, tenant, events.EventType.MESSAGE_SENT, message("sent"))

    async def one() -> object:
        return receiver.delivered

    [req] = await wait_for(one, what="a delivery")
    assert len(req.headers["webhook-signature"].split(" ")) == 2
    StandardWebhook(old_secret).verify(req.body, req.headers)
    StandardWebhook(new_secret).verify(req.body, req.headers)

    # No grace: only the newest secret signs.
    r = await client.post(
        f"/api/v1/webhooks/{hook['id']}/rotate-secret", headers=headers, json={"grace_period_seconds": 0}
    )
    newest = r.json()["secret"]
    assert r.json()["previous_secret_expires_at"] is None
    await emit(runtime, tenant, events.EventType.MESSAGE_READ, message("read"))

    async def two() -> object:
        return len(receiver.delivered) == 2 and receiver.delivered[1]

    req = await wait_for(two, what="a second delivery")
    assert len(req.headers["webhook-signature"].split(" ")) == 1
    StandardWebhook(newest).verify(req.body, req.headers)
    for stale in (old_secret, new_secret):
        with pytest.raises(WebhookVerificationError):
            StandardWebhook(stale).verify(req.body, req.headers)
    r = await client.post(
        f"/api/v1/webhooks/{hook['id']}/rotate-secret", headers=headers, json={"grace_period_seconds": -1}
    )
    assert r.status_code == 422


async def test_events_of_one_tenant_never_reach_another(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    runtime: Runtime,
    tenant: Tenant,
    receiver: Receiver,
    make_tenant: MakeTenant,
) -> None:
    await register(client, headers, receiver.url)
    other = await make_tenant("globex")
    await emit(runtime, other, events.EventType.MESSAGE_SENT, message("sent"))
    await emit(runtime, tenant, events.EventType.MESSAGE_READ, message("read"))

    async def one() -> object:
        return receiver.delivered

    await wait_for(one, what="own tenant's event")
    await asyncio.sleep(0.2)
    assert [r.json()["type"] for r in receiver.requests] == ["message.read"]


async def test_no_endpoint_no_rows_and_duplicate_jobs_are_harmless(
    client: httpx.AsyncClient, headers: dict[str, str], runtime: Runtime, tenant: Tenant, receiver: Receiver
) -> None:
    from sqlalchemy import func, select

    from tgo.models import WebhookDelivery, WebhookEvent

    await emit(runtime, tenant, events.EventType.MESSAGE_SENT, message("sent"))
    async with runtime.db.session_scope() as s:
        assert await s.scalar(select(func.count()).select_from(WebhookEvent)) == 0

    hook = await register(client, headers, receiver.url)
    receiver.then("hang")  # keeps the first attempt in flight while duplicates arrive
    await emit(runtime, tenant, events.EventType.MESSAGE_SENT, message("sent"))
    async with runtime.db.session_scope() as s:
        delivery_id = await s.scalar(select(WebhookDelivery.id))
    assert delivery_id is not None

    async def in_flight() -> object:
        return receiver.requests

    await wait_for(in_flight, what="the first attempt in flight")
    # The job published after commit holds the claim: duplicates (and the sweeper) do nothing.
    assert await attempt_delivery(runtime, delivery_id) is None
    assert await sweep_due_deliveries(runtime) == 0

    async def delivered() -> object:
        return receiver.delivered

    await wait_for(delivered, what="delivery after the hung attempt")
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1

    async def finished() -> object:
        # The receiver has the body before the worker has stored the attempt's result.
        [d] = await deliveries(client, headers, hook["id"])
        return d if d["status"] != "pending" else None

    d = await wait_for(finished, what="the delivery's result stored")
    assert d["status"] == "succeeded" and [a["error"] for a in d["attempts"]] == ["timeout", None]
