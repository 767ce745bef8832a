"""``message.received`` is applied only when Connect signed it, and once (issue 18): a forged, tampered or
stale one is refused and stores nothing; a replayed one is acknowledged without a second message."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx

from tests.conversations.conftest import CONTACT, OWNER
from tgo.channels.connect_protocol import EVENTS_PATH, sign_event
from tgo.config import Settings
from tgo.kit.clock import now


def received_event(event_id: str, content: str = "hello") -> dict[str, Any]:
    return {
        "id": event_id,
        "type": "message.received",
        "created_at": "2026-01-01T00:00:00Z",
        "data": {
            "connect_message_id": 900,
            "from_phone": CONTACT,
            "from_name": "Mona",
            "from_language": "en",
            "to_phone": OWNER,
            "type": "text",
            "content": content,
            "caption": None,
            "media": None,
            "sent_at": now().isoformat().replace("+00:00", "Z"),
        },
    }


def signed(secret: bytes, event: dict[str, Any], ts: int | None = None) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(event).encode()
    stamp = int(now().timestamp()) if ts is None else ts
    return body, {
        "content-type": "application/json",
        "x-connect-event-id": event["id"],
        "x-connect-timestamp": str(stamp),
        "x-connect-signature": sign_event(secret, stamp, body),
    }


async def inbound(client: httpx.AsyncClient, headers: dict[str, str]) -> list[Any]:
    r = await client.get("/api/v1/messages", params={"direction": "inbound"}, headers=headers)
    data: list[Any] = r.json()["data"]
    return data


async def test_forged_tampered_stale_and_replayed_events(
    client: httpx.AsyncClient, headers: dict[str, str], settings: Settings, sender: Any
) -> None:
    secret = settings.secret()
    body, good = signed(secret, received_event("evt-forged"))
    for bad_headers, bad_body in (
        (
            {
                **good,
                "x-connect-signature": sign_event(b"not-the-secret", int(good["x-connect-timestamp"]), body),
            },
            body,
        ),
        (good, body.replace(b"hello", b"HELLO")),  # tampered after signing
        ({k: v for k, v in good.items() if k != "x-connect-signature"}, body),
    ):
        r = await client.post(EVENTS_PATH, content=bad_body, headers=bad_headers)
        assert r.status_code == 401, r.text
    stale_body, stale = signed(
        secret, received_event("evt-stale"), ts=int((now() - timedelta(minutes=10)).timestamp())
    )
    assert (await client.post(EVENTS_PATH, content=stale_body, headers=stale)).status_code == 401
    assert await inbound(client, headers) == []

    r = await client.post(EVENTS_PATH, content=body, headers=good)
    assert r.status_code == 200 and r.json()["status"] == "applied", r.text
    again = await client.post(EVENTS_PATH, content=body, headers=good)
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    [msg] = await inbound(client, headers)
    assert msg["content"] == "hello" and msg["from_phone"] == CONTACT
    [conv] = (await client.get("/api/v1/conversations", headers=headers)).json()["data"]
    assert conv["unread_count"] == 1


async def test_a_signed_event_that_is_not_a_message_is_refused_and_stores_nothing(
    client: httpx.AsyncClient, headers: dict[str, str], settings: Settings, sender: Any
) -> None:
    event = received_event("evt-bad-shape")
    event["data"]["from_phone"] = "not a phone"
    body, good = signed(settings.secret(), event)
    r = await client.post(EVENTS_PATH, content=body, headers=good)
    assert r.status_code == 422 and r.json()["code"] == "validation_failed", r.text
    assert await inbound(client, headers) == []
    # Refused, so not recorded as received: a corrected redelivery of the same id would be applied.


async def test_an_event_for_a_number_that_is_no_longer_active_is_acknowledged_and_dropped(
    client: httpx.AsyncClient, headers: dict[str, str], settings: Settings, sender: Any
) -> None:
    await client.delete(f"/api/v1/sender-numbers/{sender['id']}", headers=headers)
    body, good = signed(settings.secret(), received_event("evt-late"))
    r = await client.post(EVENTS_PATH, content=body, headers=good)
    assert r.status_code == 200 and r.json()["status"] == "applied"
    assert await inbound(client, headers) == []


def signed_array(
    secret: bytes, events: list[dict[str, Any]], ts: int | None = None
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(events).encode()
    stamp = int(now().timestamp()) if ts is None else ts
    return body, {
        "content-type": "application/json",
        "x-connect-timestamp": str(stamp),
        "x-connect-signature": sign_event(secret, stamp, body),
    }


async def test_forged_tampered_stale_and_replayed_arrays(
    client: httpx.AsyncClient, headers: dict[str, str], settings: Settings, sender: Any
) -> None:
    """The array form (what Connect's pump posts) is held to the same rules, for the whole array."""
    secret = settings.secret()
    events = [received_event("evt-a1", "one"), received_event("evt-a2", "two")]
    body, good = signed_array(secret, events)
    forged = {
        **good,
        "x-connect-signature": sign_event(b"not-the-secret", int(good["x-connect-timestamp"]), body),
    }
    for bad_headers, bad_body in ((forged, body), (good, body.replace(b"two", b"TWO"))):
        r = await client.post(EVENTS_PATH, content=bad_body, headers=bad_headers)
        assert r.status_code == 401, r.text
    stale_body, stale = signed_array(secret, events, ts=int((now() - timedelta(minutes=10)).timestamp()))
    assert (await client.post(EVENTS_PATH, content=stale_body, headers=stale)).status_code == 401
    assert await inbound(client, headers) == []

    r = await client.post(EVENTS_PATH, content=body, headers=good)
    assert [i["status"] for i in r.json()["results"]] == ["applied", "applied"], r.text
    again = await client.post(EVENTS_PATH, content=body, headers=good)
    assert [i["status"] for i in again.json()["results"]] == ["duplicate", "duplicate"]
    assert [m["content"] for m in await inbound(client, headers)] == ["two", "one"]
    [conv] = (await client.get("/api/v1/conversations", headers=headers)).json()["data"]
    assert conv["unread_count"] == 2


async def test_an_array_applies_keywords_in_order_per_conversation(
    client: httpx.AsyncClient, headers: dict[str, str], settings: Settings, sender: Any
) -> None:
    """STOP then START in one array (one transaction): the contact ends opted in; a bad event in the array
    fails alone, the ones before it are applied and the rest are left for Connect to post again."""
    events = [
        received_event("evt-k1", "STOP"),
        received_event("evt-k2", "hello"),
        received_event("evt-k3", "START"),
    ]
    bad = received_event("evt-k4")
    bad["data"]["type"] = "hologram"
    body, good = signed_array(settings.secret(), [*events, bad, received_event("evt-k5", "after")])
    r = await client.post(EVENTS_PATH, content=body, headers=good)
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [i["status"] for i in results] == ["applied", "applied", "applied", "failed", "skipped"]
    assert results[3]["error"] == "validation_failed"
    assert [m["content"] for m in await inbound(client, headers)] == ["START", "hello", "STOP"]
    [conv] = (await client.get("/api/v1/conversations", headers=headers)).json()["data"]
    assert conv["unread_count"] == 3 and conv["opted_out"] is False
    listed = (await client.get("/api/v1/opt-outs", headers=headers)).json()["data"]
    assert listed == []

    body, good = signed_array(
        settings.secret(), [received_event("evt-k6", "STOP"), received_event("evt-k7", "bye")]
    )
    r = await client.post(EVENTS_PATH, content=body, headers=good)
    assert [i["status"] for i in r.json()["results"]] == ["applied", "applied"]
    [conv] = (await client.get("/api/v1/conversations", headers=headers)).json()["data"]
    assert conv["unread_count"] == 5 and conv["opted_out"] is True
