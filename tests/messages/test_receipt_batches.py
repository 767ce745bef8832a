"""Connect's receipts applied in batches (issue 16 item 3): one array moves every message it names, each in
its own tenant; a receipt for an unknown or foreign message is ignored and logged, never applied to another
message."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.conftest import MakeKey, MakeTenant
from tests.messages.conftest import insert_without_job
from tgo.channels.connect_protocol import EVENTS_PATH, sign_event
from tgo.config import Settings
from tgo.kit.clock import now
from tgo.messages.state import MessageStatus, transition
from tgo.runtime import Runtime


async def _message(runtime: Runtime, tenant_id: int, sender_id: int, connect_id: int | None) -> int:
    at = now()
    async with runtime.db.session_scope() as s:
        m = await insert_without_job(s, tenant_id, sender_id, at, "receipt me")
        if connect_id is not None:
            await transition(s, m.id, MessageStatus.SENT, at, connect_message_id=connect_id)
        return m.id


def receipt(event_id: str, kind: str, business_message_id: str, connect_id: int) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": f"message.{kind}",
        "created_at": "2026-01-01T00:00:00Z",
        "data": {
            "business_message_id": business_message_id,
            "connect_message_id": connect_id,
            "at": now().isoformat().replace("+00:00", "Z"),
        },
    }


async def post_array(client: httpx.AsyncClient, secret: bytes, events: list[dict[str, Any]]) -> list[str]:
    body = json.dumps(events).encode()
    ts = int(now().timestamp())
    r = await client.post(
        EVENTS_PATH,
        content=body,
        headers={"x-connect-timestamp": str(ts), "x-connect-signature": sign_event(secret, ts, body)},
    )
    assert r.status_code == 200, r.text
    return [i["status"] for i in r.json()["results"]]


async def test_a_batch_of_receipts_moves_each_message_once_and_ignores_foreign_ones(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    sender: dict[str, Any],
    runtime: Runtime,
    settings: Settings,
    make_tenant: MakeTenant,
    make_key: MakeKey,
) -> None:
    tenant_id = (await client.get("/api/v1/me", headers=headers)).json()["tenant"]["id"]
    sent = await _message(runtime, tenant_id, sender["id"], 501)
    overtaken = await _message(runtime, tenant_id, sender["id"], None)  # still queued: walks through sent
    known_elsewhere = await _message(runtime, tenant_id, sender["id"], 502)
    events = [
        receipt("r1", "delivered", f"msg-{sent}", 501),
        receipt("r2", "delivered", f"msg-{overtaken}", 503),
        receipt("r3", "read", f"msg-{sent}", 501),
        # Foreign: Connect knows this message by another id, an id that does not exist, another id form.
        receipt("r4", "delivered", f"msg-{known_elsewhere}", 999),
        receipt("r5", "delivered", "msg-999999999", 1),
        receipt("r6", "read", "keyword-reply-7", 2),
        receipt("r7", "delivered", "msg-12abc", 3),
    ]
    assert await post_array(client, settings.secret(), events) == ["applied"] * 7
    got = {
        i: (await client.get(f"/api/v1/messages/{i}", headers=headers)).json()
        for i in (sent, overtaken, known_elsewhere)
    }
    assert got[sent]["status"] == "read"
    assert [h["status"] for h in got[sent]["history"]] == ["queued", "sent", "delivered", "read"]
    assert got[overtaken]["status"] == "delivered"
    assert [h["status"] for h in got[overtaken]["history"]] == ["queued", "sent", "delivered"]
    assert got[known_elsewhere]["status"] == "sent"  # ignored, not moved

    # Another tenant cannot see the moves and its own messages are untouched by them.
    other = await make_tenant("other")
    other_headers = {"X-Api-Key": await make_key(other, "*")}
    r = await client.get(f"/api/v1/messages/{sent}", headers=other_headers)
    assert r.status_code == 404
    # Replayed: duplicates, nothing moves twice.
    assert await post_array(client, settings.secret(), events) == ["duplicate"] * 7
    again = (await client.get(f"/api/v1/messages/{sent}", headers=headers)).json()
    assert len(again["history"]) == 4
